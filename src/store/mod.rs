//! Durable storage of sensor records (filled in next).

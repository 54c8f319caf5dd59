//! Metadata extraction from a received copy (filled in next).

//! Message authentication over `mail-auth` (DKIM, ARC) and `viaspf` (SPF),
//! reduced to verdict values the rest of authsense consumes. This is the only
//! module that imports their verifiers; DNS comes from [`crate::dns`].

mod dkim_tags;
mod dmarc;
mod dmarc_authors;
mod dmarc_record;
mod message;
mod seal;
mod spf;
mod spf_lookup;
mod strict;

pub use crate::model::{organizational_domain, SpfResult};
pub use dmarc::{
    aligned, sampled_in, AlignmentMode, DmarcInput, DmarcPolicy, DmarcResult, DmarcVerdict,
};
pub use dmarc_authors::{strictest, Authors, MAX_AUTHOR_DOMAINS};
pub use dmarc_record::{DmarcRecord, RecordError};
pub use message::{ArcCheck, DkimCheck, IprevCheck, MessageChecks, Outcome};
pub use seal::{SealContext, Sealer};
pub use spf::{SpfCheck, SpfRequest, SpfVerdict};

use crate::config::DnsConfig;
use mail_auth::MessageAuthenticator;

/// The evaluator: one resolver (with its cache) shared by every message.
pub struct Authenticator {
    resolver: MessageAuthenticator,
}

impl Authenticator {
    /// Builds an authenticator on the DNS configuration.
    ///
    /// # Errors
    /// The resolver cannot be built (see [`crate::dns::resolver`]).
    pub fn new(dns: &DnsConfig) -> Result<Self, String> {
        Ok(Authenticator {
            resolver: crate::dns::resolver(dns)?,
        })
    }
}

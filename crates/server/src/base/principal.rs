//! Who is calling: the verified caller of a request, or a service principal made by
//! [`crate::base::Ctx::system`] for work the server does itself.

/// Who is calling, once the signature checked out.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The account the call acts in.
    pub account: String,
    /// The region from the credential scope.
    pub region: String,
    /// The caller's ARN.
    pub arn: String,
    /// The access key used.
    pub access_key_id: String,
    /// What kind of identity signed.
    pub identity: Identity,
    /// Where the request came from, for `aws:SourceIp`.
    pub source_ip: Option<std::net::IpAddr>,
    /// The host the caller reached (its `Host` header), for URLs handed back to it.
    pub request_host: Option<String>,
}

/// The identity behind an access key.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Identity {
    /// The account's root: may do everything in its account.
    #[default]
    Root,
    /// An IAM user (by name).
    User(String),
    /// A session of an assumed role.
    Role {
        /// The role's name.
        role: String,
        /// The session name.
        session: String,
    },
}

impl Principal {
    /// The root of `account`, acting in `region` (internal work and tests).
    pub fn root(account: &str, region: &str) -> Self {
        Principal {
            account: account.to_owned(),
            region: region.to_owned(),
            arn: format!("arn:aws:iam::{account}:root"),
            access_key_id: String::new(),
            identity: Identity::Root,
            source_ip: None,
            request_host: None,
        }
    }

    /// Whether policies bound this caller (everyone but the root).
    pub fn is_root(&self) -> bool {
        self.identity == Identity::Root
    }
}

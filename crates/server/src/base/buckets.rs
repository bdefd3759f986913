//! Which blob-store buckets callers may name (command output, resource data syncs): the
//! server keeps session transcripts and the audit trail's exports and digests in buckets
//! of its own, and a caller who could write there could overwrite them.

/// Buckets the server writes for itself start with this; only the default command-output
/// bucket among them is the callers' too.
const SERVER_PREFIX: &str = "steward-";
/// Where command output goes when the caller names no bucket.
pub const DEFAULT_OUTPUT_BUCKET: &str = "steward-command-output";

/// Checks a bucket a caller names: S3's naming rules (3 to 63 lowercase letters, digits,
/// dots and hyphens, starting and ending with a letter or digit), and none of the
/// server's own buckets. The error is a sentence for the caller.
pub fn check_user_bucket(name: &str) -> Result<(), String> {
    let shaped = (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..");
    if !shaped {
        return Err(format!(
            "The bucket name {name:?} is not valid: 3 to 63 lowercase letters, digits, dots and hyphens."
        ));
    }
    if name.starts_with(SERVER_PREFIX) && name != DEFAULT_OUTPUT_BUCKET {
        return Err(format!("The bucket {name} is reserved for the server's own records."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_buckets_and_bad_names_are_refused() {
        assert!(check_user_bucket("inventory-exports").is_ok());
        assert!(check_user_bucket(DEFAULT_OUTPUT_BUCKET).is_ok());
        for bad in
            ["steward-audit", "steward-audit-digest", "steward-sessions", "ab", "Up", "a..b", "-a", "a/b", "../x"]
        {
            assert!(check_user_bucket(bad).is_err(), "{bad}");
        }
    }
}

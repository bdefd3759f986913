//! The built-in catalogue: documents with SSM's names, parameters and behaviour, written for
//! Steward, owned by `Amazon`, read-only, present in every account at version 1.
//!
//! `SSM-SessionManagerRunShell` is special, as in SSM: an account may create its own
//! document of that name (its session preferences), which then takes precedence.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use steward_core::documents::content::Format;

use super::{analyze, DocHead, DocVersion, VersionEntry, AMAZON};

/// When the catalogue "was created" (epoch ms), for CreatedDate.
const CREATED: i64 = 1_504_051_200_000;

/// (name, document type, content)
const CATALOGUE: &[(&str, &str, &str)] = &[
    ("AWS-ConfigureAWSPackage", "Command", include_str!("builtin/AWS-ConfigureAWSPackage.json")),
    ("AWS-GatherSoftwareInventory", "Policy", include_str!("builtin/AWS-GatherSoftwareInventory.json")),
    ("AWS-RunDocument", "Command", include_str!("builtin/AWS-RunDocument.json")),
    ("AWS-RunPatchBaseline", "Command", include_str!("builtin/AWS-RunPatchBaseline.json")),
    ("AWS-RunPowerShellScript", "Command", include_str!("builtin/AWS-RunPowerShellScript.json")),
    ("AWS-RunShellScript", "Command", include_str!("builtin/AWS-RunShellScript.json")),
    ("AWS-StartInteractiveCommand", "Session", include_str!("builtin/AWS-StartInteractiveCommand.json")),
    ("AWS-StartNonInteractiveCommand", "Session", include_str!("builtin/AWS-StartNonInteractiveCommand.json")),
    ("AWS-StartPortForwardingSession", "Session", include_str!("builtin/AWS-StartPortForwardingSession.json")),
    (
        "AWS-StartPortForwardingSessionToRemoteHost",
        "Session",
        include_str!("builtin/AWS-StartPortForwardingSessionToRemoteHost.json"),
    ),
    ("AWS-StartSSHSession", "Session", include_str!("builtin/AWS-StartSSHSession.json")),
    ("AWS-UpdateSSMAgent", "Command", include_str!("builtin/AWS-UpdateSSMAgent.json")),
    ("SSM-SessionManagerRunShell", "Session", include_str!("builtin/SSM-SessionManagerRunShell.json")),
];

/// A name an account may create to shadow the built-in of the same name.
pub const OVERRIDABLE: &[&str] = &["SSM-SessionManagerRunShell"];

fn catalogue() -> &'static BTreeMap<&'static str, (DocHead, DocVersion)> {
    static DOCS: OnceLock<BTreeMap<&'static str, (DocHead, DocVersion)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        CATALOGUE
            .iter()
            .map(|(name, doc_type, text)| {
                let mut version = analyze(text, Format::Json, doc_type, CREATED)
                    .unwrap_or_else(|e| panic!("built-in document {name} is invalid: {e}"));
                version.version = 1;
                let head = DocHead {
                    name: name.to_string(),
                    owner: AMAZON.into(),
                    doc_type: doc_type.to_string(),
                    created: CREATED,
                    versions: vec![VersionEntry { version: 1, name: None, hash: version.hash.clone() }],
                    default_version: 1,
                    next_version: 2,
                    tags: Vec::new(),
                    shared_with: Vec::new(),
                    shared_version: "$DEFAULT".into(),
                };
                (*name, (head, version))
            })
            .collect()
    })
}

/// The head of a built-in document.
pub fn head(name: &str) -> Option<DocHead> {
    catalogue().get(name).map(|(h, _)| h.clone())
}

/// The (only) version of a built-in document.
pub fn version(name: &str) -> Option<DocVersion> {
    catalogue().get(name).map(|(_, v)| v.clone())
}

/// Every built-in document, by name.
pub fn all() -> impl Iterator<Item = (&'static DocHead, &'static DocVersion)> {
    catalogue().values().map(|(h, v)| (h, v))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_built_in_document_is_valid() {
        assert_eq!(super::all().count(), super::CATALOGUE.len());
        let shell = super::version("AWS-RunShellScript").unwrap();
        assert_eq!(shell.platform_types, ["Linux", "MacOS"]);
        assert_eq!(shell.parameters[0].0, "commands");
    }
}

//! Document operations.

use serde::{Deserialize, Serialize};

use super::Tag;

/// A document this one requires.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentRequires {
    /// Name or ARN.
    pub name: String,
    /// Version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Type of the requirement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_type: Option<String>,
    /// Version name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
}

/// CreateDocument input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDocumentRequest {
    /// The content.
    pub content: String,
    /// Required documents.
    pub requires: Option<Vec<DocumentRequires>>,
    /// Attachments (not supported yet).
    pub attachments: Option<serde_json::Value>,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Version name.
    pub version_name: Option<String>,
    /// Command, Automation, Session, …
    pub document_type: Option<String>,
    /// JSON, YAML or TEXT.
    pub document_format: Option<String>,
    /// e.g. `/AWS::EC2::Instance`.
    pub target_type: Option<String>,
    /// Tags.
    pub tags: Option<Vec<Tag>>,
}

/// UpdateDocument input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDocumentRequest {
    /// The content.
    pub content: String,
    /// Attachments (not supported yet).
    pub attachments: Option<serde_json::Value>,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Version name.
    pub version_name: Option<String>,
    /// Must be `$LATEST` or the latest number.
    pub document_version: Option<String>,
    /// JSON, YAML or TEXT.
    pub document_format: Option<String>,
    /// Target type.
    pub target_type: Option<String>,
}

/// GetDocument input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDocumentRequest {
    /// Name or ARN.
    pub name: String,
    /// Version name.
    pub version_name: Option<String>,
    /// Version number, `$LATEST` or `$DEFAULT`.
    pub document_version: Option<String>,
    /// Format to return the content in.
    pub document_format: Option<String>,
}

/// GetDocument output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDocumentResponse {
    /// Name.
    pub name: String,
    /// Epoch seconds.
    pub created_date: f64,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Version name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Version.
    pub document_version: String,
    /// Active.
    pub status: String,
    /// The content.
    pub content: String,
    /// Type.
    pub document_type: String,
    /// Format of `content`.
    pub document_format: String,
    /// Requirements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<Vec<DocumentRequires>>,
    /// The files of a Package version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments_content: Option<Vec<AttachmentContent>>,
}

/// DescribeDocument / DeleteDocument / ListDocumentVersions input naming a version.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDocumentRequest {
    /// Name or ARN.
    pub name: String,
    /// Version.
    pub document_version: Option<String>,
    /// Version name.
    pub version_name: Option<String>,
}

/// A document parameter as described.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentParameter {
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "Type")]
    pub kind: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default as text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
}

/// A document's description.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentDescription {
    /// SHA-256 of the content.
    pub hash: String,
    /// Sha256.
    pub hash_type: String,
    /// Name.
    pub name: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Version name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Account id or `Amazon`.
    pub owner: String,
    /// Epoch seconds.
    pub created_date: f64,
    /// Creating, Updating, Active.
    pub status: String,
    /// Version described.
    pub document_version: String,
    /// Description from the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Parameters from the content.
    pub parameters: Vec<DocumentParameter>,
    /// Platforms.
    pub platform_types: Vec<String>,
    /// Type.
    pub document_type: String,
    /// Schema version.
    pub schema_version: String,
    /// Latest version.
    pub latest_version: String,
    /// Default version.
    pub default_version: String,
    /// Format.
    pub document_format: String,
    /// Target type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Requirements.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<Vec<DocumentRequires>>,
    /// The files of a Package version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments_information: Option<Vec<AttachmentInformation>>,
}

/// A file of a document version, by name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentInformation {
    /// Its name.
    pub name: String,
}

/// A file of a document version, with its size and hash.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachmentContent {
    /// Its name.
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// Its hash.
    pub hash: String,
    /// Sha256.
    pub hash_type: String,
}

/// CreateDocument / UpdateDocument output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentDescriptionResponse {
    /// The new version's description.
    pub document_description: DocumentDescription,
}

/// DescribeDocument output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDocumentResponse {
    /// The description.
    pub document: DocumentDescription,
}

/// UpdateDocumentDefaultVersion input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDocumentDefaultVersionRequest {
    /// Name.
    pub name: String,
    /// Version number.
    pub document_version: String,
}

/// UpdateDocumentDefaultVersion output item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentDefaultVersionDescription {
    /// Name.
    pub name: String,
    /// Default version.
    pub default_version: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_version_name: Option<String>,
}

/// UpdateDocumentDefaultVersion output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateDocumentDefaultVersionResponse {
    /// The result.
    pub description: DocumentDefaultVersionDescription,
}

/// A `DocumentKeyValuesFilter`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentKeyValuesFilter {
    /// Owner, Name, DocumentType, PlatformTypes, SchemaVersion, TargetType, SearchKeyword, tag:KEY.
    pub key: Option<String>,
    /// Values.
    pub values: Option<Vec<String>>,
}

/// A legacy `DocumentFilter`.
#[derive(Debug, Clone, Deserialize)]
pub struct DocumentFilter {
    /// Name, Owner, PlatformTypes, DocumentType.
    pub key: String,
    /// One value.
    pub value: String,
}

/// ListDocuments input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDocumentsRequest {
    /// Legacy filters.
    pub document_filter_list: Option<Vec<DocumentFilter>>,
    /// Filters.
    pub filters: Option<Vec<DocumentKeyValuesFilter>>,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// ListDocuments item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentIdentifier {
    /// Name (an ARN for documents shared by others).
    pub name: String,
    /// Epoch seconds.
    pub created_date: f64,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Owner.
    pub owner: String,
    /// Version name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Platforms.
    pub platform_types: Vec<String>,
    /// Default version.
    pub document_version: String,
    /// Type.
    pub document_type: String,
    /// Schema version.
    pub schema_version: String,
    /// Format.
    pub document_format: String,
    /// Target type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
}

/// ListDocuments output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDocumentsResponse {
    /// The page.
    pub document_identifiers: Vec<DocumentIdentifier>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// ListDocumentVersions input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDocumentVersionsRequest {
    /// Name or ARN.
    pub name: String,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// ListDocumentVersions item.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DocumentVersionInfo {
    /// Name.
    pub name: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Version.
    pub document_version: String,
    /// Version name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_name: Option<String>,
    /// Epoch seconds.
    pub created_date: f64,
    /// Whether it is the default.
    pub is_default_version: bool,
    /// Format.
    pub document_format: String,
    /// Active.
    pub status: String,
}

/// ListDocumentVersions output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDocumentVersionsResponse {
    /// Versions, newest first.
    pub document_versions: Vec<DocumentVersionInfo>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// DeleteDocument input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteDocumentRequest {
    /// Name.
    pub name: String,
    /// One version only.
    pub document_version: Option<String>,
    /// One version only, by name.
    pub version_name: Option<String>,
    /// Force (for schema documents).
    pub force: Option<bool>,
}

/// ModifyDocumentPermission input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyDocumentPermissionRequest {
    /// Name.
    pub name: String,
    /// Share.
    pub permission_type: String,
    /// Account ids or `all`.
    pub account_ids_to_add: Option<Vec<String>>,
    /// Account ids or `all`.
    pub account_ids_to_remove: Option<Vec<String>>,
    /// `$DEFAULT`, `$LATEST` or `$ALL`.
    pub shared_document_version: Option<String>,
}

/// DescribeDocumentPermission input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDocumentPermissionRequest {
    /// Name.
    pub name: String,
    /// Share.
    pub permission_type: String,
    /// Page size.
    pub max_results: Option<i64>,
    /// Continuation.
    pub next_token: Option<String>,
}

/// One account a document is shared with.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSharingInfo {
    /// Account id or `all`.
    pub account_id: String,
    /// The version shared.
    pub shared_document_version: String,
}

/// DescribeDocumentPermission output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeDocumentPermissionResponse {
    /// Account ids.
    pub account_ids: Vec<String>,
    /// With versions.
    pub account_sharing_info_list: Vec<AccountSharingInfo>,
    /// Continuation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

//! Where a restore reads its snapshot: an existing repository (never created or dropped), or a
//! read-only temporary one created from a Secret's keys and dropped at the end.
//!
//! The Secret's keys (`--repository-secret`) mirror the CrateDB operator's restore Secret
//! (crate-operator `restore_backup_repository_data.py`, whose S3 example uses `access-key-id`,
//! `secret-access-key`, `bucket`, `base-path`); the Azure names follow the same pattern.
//! `--from-resource` reads the same references from the resource's
//! `spec.cluster.restoreSnapshot` (`accessKeyId.secretKeyRef`, …, as the operator does).
//!
//! Secret values never appear in a statement: [`create_statement`] writes a `?` for each and the
//! caller passes the values as bind arguments, in [`RepositoryParam`] order.

use serde::{Deserialize, Serialize};

use crate::sql::quote_ident;

/// The object store kind of a temporary repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    S3,
    Azure,
}

/// One Secret key and the repository parameter it fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpec {
    /// The key in a `--repository-secret` Secret.
    pub secret_key: &'static str,
    /// The field of the operator's `spec.cluster.restoreSnapshot` (`--from-resource`).
    pub resource_field: &'static str,
    /// The CrateDB repository parameter.
    pub param: &'static str,
    pub required: bool,
}

const S3_KEYS: &[KeySpec] = &[
    KeySpec {
        secret_key: "access-key-id",
        resource_field: "accessKeyId",
        param: "access_key",
        required: true,
    },
    KeySpec {
        secret_key: "secret-access-key",
        resource_field: "secretAccessKey",
        param: "secret_key",
        required: true,
    },
    KeySpec {
        secret_key: "bucket",
        resource_field: "bucket",
        param: "bucket",
        required: true,
    },
    KeySpec {
        secret_key: "base-path",
        resource_field: "basePath",
        param: "base_path",
        required: true,
    },
    KeySpec {
        secret_key: "endpoint",
        resource_field: "endpoint",
        param: "endpoint",
        required: false,
    },
    KeySpec {
        secret_key: "region",
        resource_field: "region",
        param: "region",
        required: false,
    },
    KeySpec {
        secret_key: "protocol",
        resource_field: "protocol",
        param: "protocol",
        required: false,
    },
];

const AZURE_KEYS: &[KeySpec] = &[
    KeySpec {
        secret_key: "account-name",
        resource_field: "accountName",
        param: "account",
        required: true,
    },
    KeySpec {
        secret_key: "account-key",
        resource_field: "accountKey",
        param: "key",
        required: true,
    },
    KeySpec {
        secret_key: "container",
        resource_field: "container",
        param: "container",
        required: true,
    },
    KeySpec {
        secret_key: "base-path",
        resource_field: "basePath",
        param: "base_path",
        required: true,
    },
    KeySpec {
        secret_key: "endpoint",
        resource_field: "endpoint",
        param: "endpoint",
        required: false,
    },
];

impl Provider {
    pub fn parse(input: &str) -> Result<Provider, String> {
        match input {
            "s3" | "aws" => Ok(Provider::S3),
            "azure" | "azure_blob" => Ok(Provider::Azure),
            other => Err(format!("unknown provider {other:?}: use s3 or azure")),
        }
    }

    /// The CrateDB repository type.
    pub fn repository_type(self) -> &'static str {
        match self {
            Provider::S3 => "s3",
            Provider::Azure => "azure",
        }
    }

    pub fn keys(self) -> &'static [KeySpec] {
        match self {
            Provider::S3 => S3_KEYS,
            Provider::Azure => AZURE_KEYS,
        }
    }

    /// `access-key-id, secret-access-key, bucket, base-path`.
    pub fn required_key_list(self) -> String {
        let keys: Vec<&str> = self
            .keys()
            .iter()
            .filter(|k| k.required)
            .map(|k| k.secret_key)
            .collect();
        keys.join(", ")
    }
}

/// Which keys a Secret lacks (absent or empty) for `provider`; the message names the Secret
/// and the keys, never a value.
pub fn check_secret_keys(
    secret: &str,
    provider: Provider,
    present_non_empty: &[String],
) -> Result<(), String> {
    let missing: Vec<&str> = provider
        .keys()
        .iter()
        .filter(|k| k.required && !present_non_empty.iter().any(|p| p == k.secret_key))
        .map(|k| k.secret_key)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Secret {secret} lacks the key(s) {} (needed for {}: {}; an empty value counts as missing)",
        missing.join(", "),
        provider.repository_type(),
        provider.required_key_list()
    ))
}

/// The name of the temporary repository: `cratectl_restore_<unix seconds of the workflow's
/// recorded start>`, the same on every retry.
pub fn temporary_name(started_unix_seconds: i64) -> String {
    format!("{TEMPORARY_PREFIX}{started_unix_seconds}")
}

/// The prefix of every temporary repository's name.
pub const TEMPORARY_PREFIX: &str = "cratectl_restore_";

/// One bind argument of [`create_statement`]: a fixed value or a Secret's value for `param`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RepositoryParam {
    MaxRestoreBytesPerSec(String),
    Readonly,
    /// The Secret value for this repository parameter.
    FromSecret(String),
}

/// `CREATE REPOSITORY "name" TYPE "s3" WITH ("max_restore_bytes_per_sec" = ?, "readonly" = ?,
/// "access_key" = ?, …)` and the bind arguments' order. `present` are the repository parameters
/// that have a value (required and optional ones); absent optional ones are left out.
pub fn create_statement(
    name: &str,
    provider: Provider,
    present: &[&str],
    max_restore_bytes_per_sec: &str,
) -> (String, Vec<RepositoryParam>) {
    let mut names = vec!["max_restore_bytes_per_sec", "readonly"];
    let mut params = vec![
        RepositoryParam::MaxRestoreBytesPerSec(max_restore_bytes_per_sec.to_string()),
        RepositoryParam::Readonly,
    ];
    for key in provider.keys() {
        if present.contains(&key.param) {
            names.push(key.param);
            params.push(RepositoryParam::FromSecret(key.param.to_string()));
        }
    }
    let with: Vec<String> = names.iter().map(|n| format!("{} = ?", quote_ident(n))).collect();
    (
        format!(
            "CREATE REPOSITORY {} TYPE {} WITH ({})",
            quote_ident(name),
            quote_ident(provider.repository_type()),
            with.join(", ")
        ),
        params,
    )
}

/// `DROP REPOSITORY "name"`.
pub fn drop_statement(name: &str) -> String {
    format!("DROP REPOSITORY {}", quote_ident(name))
}

/// Whether an existing repository of this name is the one a retry created: same type and the
/// same non-secret location (`bucket`/`container` and `base_path`, as `sys.repositories` shows
/// them). Anything else is someone else's repository and is never used or dropped.
pub fn is_ours(
    provider: Provider,
    existing_type: &str,
    existing_settings: &serde_json::Value,
    location: &[(&str, &str)],
) -> bool {
    existing_type == provider.repository_type()
        && location.iter().all(|(param, value)| {
            existing_settings
                .get(*param)
                .and_then(|v| v.as_str())
                .is_some_and(|v| v == *value)
        })
}

/// The parameters of a location that `sys.repositories` shows unmasked.
pub fn location_params(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::S3 => &["bucket", "base_path"],
        Provider::Azure => &["container", "base_path"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_has_no_values() {
        let (stmt, params) = create_statement(
            "cratectl_restore_1",
            Provider::S3,
            &["access_key", "secret_key", "bucket", "base_path", "endpoint"],
            "240mb",
        );
        assert_eq!(
            stmt,
            "CREATE REPOSITORY \"cratectl_restore_1\" TYPE \"s3\" WITH (\"max_restore_bytes_per_sec\" = ?, \
             \"readonly\" = ?, \"access_key\" = ?, \"secret_key\" = ?, \"bucket\" = ?, \"base_path\" = ?, \
             \"endpoint\" = ?)"
        );
        assert_eq!(params.len(), 7);
        assert_eq!(params[2], RepositoryParam::FromSecret("access_key".into()));
        let (azure, _) = create_statement(
            "r",
            Provider::Azure,
            &["account", "key", "container", "base_path"],
            "1mb",
        );
        assert!(azure.contains("TYPE \"azure\"") && azure.contains("\"container\" = ?"));
    }

    #[test]
    fn missing_keys_are_named() {
        let have: Vec<String> = ["access-key-id", "secret-access-key", "base-path"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            check_secret_keys("crate/restore-creds", Provider::S3, &have).unwrap_err(),
            "Secret crate/restore-creds lacks the key(s) bucket (needed for s3: access-key-id, \
             secret-access-key, bucket, base-path; an empty value counts as missing)"
        );
        assert!(
            check_secret_keys("s", Provider::Azure, &have)
                .unwrap_err()
                .contains("account-name")
        );
        assert_eq!(Provider::parse("azure_blob"), Ok(Provider::Azure));
        assert!(Provider::parse("gcs").is_err());
    }

    #[test]
    fn ours_means_same_type_and_location() {
        let settings = serde_json::json!({"bucket": "b", "base_path": "p", "access_key": "[xxxxx]"});
        assert!(is_ours(
            Provider::S3,
            "s3",
            &settings,
            &[("bucket", "b"), ("base_path", "p")]
        ));
        assert!(!is_ours(
            Provider::S3,
            "s3",
            &settings,
            &[("bucket", "other"), ("base_path", "p")]
        ));
        assert!(!is_ours(Provider::Azure, "s3", &settings, &[]));
        assert_eq!(temporary_name(1765000000), "cratectl_restore_1765000000");
        assert_eq!(drop_statement("r"), "DROP REPOSITORY \"r\"");
    }
}

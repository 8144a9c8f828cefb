//! Kubernetes `Status` errors, shaped as a real API server sends them (clients parse `reason`,
//! `code` and `details`; kubectl prints `message`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error: HTTP status plus the `Status` body.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String) -> ApiError {
        ApiError {
            code,
            reason,
            message,
            details: None,
        }
    }

    /// 404: `pods "x" not found`.
    pub fn not_found(qualified: &str, name: &str) -> ApiError {
        let kind = qualified.split('.').next().unwrap_or(qualified);
        let mut e = ApiError::new(404, "NotFound", format!("{qualified} \"{name}\" not found"));
        let group = qualified.split_once('.').map(|(_, g)| g).unwrap_or("");
        e.details = Some(json!({"name": name, "group": group, "kind": kind}));
        e
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409: `pods "x" already exists`.
    pub fn already_exists(qualified: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{qualified} \"{name}\" already exists"),
        )
    }

    /// 409: stale resourceVersion.
    pub fn conflict(qualified: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {qualified} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again"
            ),
        )
    }

    /// 409: a delete precondition (uid or resourceVersion) did not hold.
    pub fn precondition_failed(qualified: &str, name: &str, what: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {qualified} \"{name}\": Precondition failed: {what}"),
        )
    }

    /// 422 Invalid.
    pub fn invalid(qualified: &str, name: &str, message: &str) -> ApiError {
        ApiError::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {message}"),
        )
    }

    /// 400 BadRequest.
    pub fn bad_request(message: String) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(message: String) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    /// 410 Expired: the requested resourceVersion is older than the log.
    pub fn expired(requested: u64, oldest: u64) -> ApiError {
        ApiError::new(
            410,
            "Expired",
            format!("too old resource version: {requested} ({oldest})"),
        )
    }

    /// 429 TooManyRequests, e.g. an eviction a disruption budget refuses.
    pub fn too_many_requests(message: String, details: Value) -> ApiError {
        let mut e = ApiError::new(429, "TooManyRequests", message);
        e.details = Some(details);
        e
    }

    /// 500 InternalError, e.g. an eviction of a pod that more than one budget selects.
    pub fn internal(message: String) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// 503 ServiceUnavailable, e.g. a proxied connection refused.
    pub fn service_unavailable(message: String) -> ApiError {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// An injected failure with `code` (see `crate::faults`).
    pub fn injected(code: u16) -> ApiError {
        let reason = match code {
            409 => "Conflict",
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            _ => "InternalError",
        };
        ApiError::new(
            code,
            reason,
            format!("cratesim: injected fault ({code} {reason})"),
        )
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type})"
            ),
        )
    }

    /// A strategic merge patch of a custom resource, which has no patch merge keys.
    pub fn strategic_patch_of_custom_resource(content_type: &str) -> ApiError {
        ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type})"
            ),
        )
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let (Some(details), Some(map)) = (&self.details, status.as_object_mut()) {
            map.insert("details".into(), details.clone());
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (
            code,
            [("content-type", "application/json")],
            self.status().to_string(),
        )
            .into_response()
    }
}

//! Errors as the browser gets them: an HTTP status and a message, never a connection string.
//! Used by the API's handlers and by the database connections they call.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error as the browser gets it: a status and a message, never a connection string.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    pub fn read_only(db: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the dashboard is read-only for database {db}: start the proxy with --admin-dsn and an admin token to try, apply, revert or dismiss"
            ),
        )
    }

    /// A statement's error: the server's message (and hint), with a status from its SQLSTATE.
    pub fn from_db(e: tokio_postgres::Error) -> ApiError {
        let Some(db) = e.as_db_error() else {
            return ApiError::unavailable("the database connection failed; the proxy reconnects");
        };
        let code = db.code().code();
        let status = match code {
            "42501" => StatusCode::FORBIDDEN,
            "57014" => StatusCode::GATEWAY_TIMEOUT,
            // bad input, a refused or unsupported request (0A000: what OptiSchema does not do)
            c if ["22", "42", "23", "0A"]
                .iter()
                .any(|class| c.starts_with(class)) =>
            {
                StatusCode::BAD_REQUEST
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut message = db.message().to_string();
        if let Some(hint) = db.hint() {
            message.push_str(&format!(" (hint: {hint})"));
        }
        ApiError::new(status, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}

//! A JSON extractor that answers in the API's envelope: 413 over the body limit, 400 for bodies
//! that are not JSON of the expected shape (unknown fields included).
use crate::error::ApiError;
use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
};
use serde::de::DeserializeOwned;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 256 * 1024;

pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large(BODY_LIMIT)
            } else {
                ApiError::invalid_json(e.body_text())
            }
        })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| ApiError::invalid_json(e.to_string()))
    }
}

//! The shapes of a listing's answer: a page with the cursor of the next one, or every item at
//! once. Every listing of the API answers one of them.
use serde::Serialize;
use utoipa::ToSchema;

/// A page of a listing; `next_cursor` is `null` on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Every item at once (`{"data": [...]}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
}

//! The string formats the validators of this crate enforce, named so the API's description
//! can say them once and refer to them (`openapi` feature only). Each is the pattern of one
//! validator: change the rule there, change it here.
use crate::render::Profile;
use utoipa::{
    ToSchema,
    openapi::{ObjectBuilder, RefOr, Schema, Type},
};

// `subscription::validate_pattern`.
/// A subscription's pattern on the dot-separated event type: words, `*` or `#`.
#[derive(ToSchema)]
#[schema(
    pattern = r"^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$",
    example = "order.*"
)]
pub struct TypePattern(pub String);

// `parse_duration`.
/// A duration: a whole number and a unit (`ms`, `s`, `m`, `h`, `d`).
#[derive(ToSchema)]
#[schema(pattern = "^[0-9]{1,6}(ms|s|m|h|d)$", example = "30s")]
pub struct Duration(pub String);

// `event::validate_scope`.
/// An organization or partition id: 1 to 64 printable characters (quotes and backslashes too).
#[derive(ToSchema)]
#[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]{1,64}$", example = "org-1")]
pub struct ScopeValue(pub String);

/// What an API key may do: `admin`, or `installation:`, `channel:` or `organization:` and an
/// id of 1 to 64 printable characters.
#[derive(ToSchema)]
// `api_key::validate`.
#[schema(
    pattern = r"^(admin|(installation|channel|organization):[^\u0000-\u001f\u007f-\u009f]{1,64})$",
    example = "organization:acme"
)]
pub struct ScopeName(pub String);

/// A profile is described by the names it is read and written by ([`Profile::ALL`]), so a new
/// profile is in the description without a word here.
impl utoipa::PartialSchema for Profile {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "How each copy is rendered into the request a subscriber receives.",
            ))
            .enum_values(Some(Profile::ALL.map(Profile::as_str)))
            .into()
    }
}

impl ToSchema for Profile {}

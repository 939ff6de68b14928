//! Reading the record's rows by column name. Every read of a row goes through [`Columns`], so a
//! value the record holds that does not fit (a malformed id, a NULL where none may be, a type
//! no version wrote) is [`StoreError::Unexpected`] naming its column, never a panic, and no
//! query depends on the position of a column in its select list.
//!
//! Ids go the other way as `id.as_str()`: the driver's `ToSql` cannot be implemented here for
//! the core's id types (neither is this crate's), and the queries' signatures are what keep
//! one kind of id from being passed for another.
use crate::{Result, StoreError};
use hookfleet_core::ids::IdError;
use tokio_postgres::{Row, types::FromSql};

pub(crate) trait Columns {
    /// Column `name` as `T`.
    fn col<'a, T: FromSql<'a>>(&'a self, name: &str) -> Result<T>;

    /// Column `name` as an id of kind `T`, checked like every id read.
    fn id<T: TryFrom<String, Error = IdError>>(&self, name: &str) -> Result<T> {
        let text: String = self.col(name)?;
        T::try_from(text).map_err(|e| unexpected(name, e))
    }
}

impl Columns for Row {
    fn col<'a, T: FromSql<'a>>(&'a self, name: &str) -> Result<T> {
        self.try_get(name).map_err(|e| unexpected(name, e))
    }
}

/// What the record holds in column `name` is not what this version reads there.
pub(crate) fn unexpected(name: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(format!("column `{name}`: {e}"))
}

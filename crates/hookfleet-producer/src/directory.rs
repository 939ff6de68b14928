//! What the intake knows without asking the database: the API keys every request is checked
//! against, the installations partners post for, and the lifecycle channels with their
//! password hashes. All are reloaded from the record every
//! `key_reload_interval`, at once by the producer that changed one, and by every other producer
//! when it hears the control notice that change publishes. A revoked key (or deleted
//! installation) therefore stops working at once on the producer that changed it and within one
//! reload interval everywhere else; a replaced key stops exactly when its grace ends (checked on
//! each request).
use hookfleet_core::{
    ApiKeyId, ChannelId,
    api_key::{self, Scope},
};
use hookfleet_store::Store;
use std::{
    collections::{HashMap, HashSet},
    sync::RwLock,
};
use time::OffsetDateTime;

#[derive(Debug, Clone)]
struct Entry {
    key_id: ApiKeyId,
    scopes: Vec<Scope>,
    valid_until: Option<OffsetDateTime>,
}

/// The keys that authenticate, by hash.
#[derive(Debug, Default)]
pub(crate) struct KeyRing {
    by_hash: RwLock<HashMap<String, Entry>>,
}

impl KeyRing {
    /// Reads every live key from the record and replaces what is held.
    pub(crate) async fn reload(&self, store: &Store) -> hookfleet_store::Result<()> {
        let hashes = store.active_key_hashes().await?;
        let mut by_hash = HashMap::with_capacity(hashes.len());
        for h in hashes {
            // Scopes were checked when written; one the code no longer knows grants nothing.
            let scopes = h
                .scopes
                .iter()
                .filter_map(|s| Scope::parse(s).ok())
                .collect();
            by_hash.insert(
                h.hash,
                Entry {
                    key_id: h.key_id,
                    scopes,
                    valid_until: h.valid_until,
                },
            );
        }
        *self.by_hash.write().unwrap_or_else(|p| p.into_inner()) = by_hash;
        Ok(())
    }

    /// The key `presented` is, and what it may do, if it authenticates now. The lookup is by
    /// SHA-256 of the presented key, so nothing about a stored key leaks through timing.
    pub(crate) fn lookup(&self, presented: &str) -> Option<(ApiKeyId, Vec<Scope>)> {
        let hash = api_key::hash(presented);
        let held = self.by_hash.read().unwrap_or_else(|p| p.into_inner());
        let entry = held.get(&hash)?;
        if entry
            .valid_until
            .is_some_and(|until| until <= OffsetDateTime::now_utc())
        {
            return None;
        }
        Some((entry.key_id.clone(), entry.scopes.clone()))
    }
}

/// The live installations' ids.
#[derive(Debug, Default)]
pub(crate) struct Installations {
    ids: RwLock<HashSet<String>>,
}

impl Installations {
    pub(crate) async fn reload(&self, store: &Store) -> hookfleet_store::Result<()> {
        let ids = store
            .installations()
            .await?
            .into_iter()
            .map(|i| i.id)
            .collect();
        *self.ids.write().unwrap_or_else(|p| p.into_inner()) = ids;
        Ok(())
    }

    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }
}

/// The live channels, each with the argon2id hash of its password.
#[derive(Debug, Default)]
pub(crate) struct Channels {
    hashes: RwLock<HashMap<ChannelId, String>>,
}

impl Channels {
    pub(crate) async fn reload(&self, store: &Store) -> hookfleet_store::Result<()> {
        let hashes = store.channel_password_hashes().await?.into_iter().collect();
        *self.hashes.write().unwrap_or_else(|p| p.into_inner()) = hashes;
        Ok(())
    }

    /// The channel's password hash, if it is live.
    pub(crate) fn password_hash(&self, id: &ChannelId) -> Option<String> {
        self.hashes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }
}

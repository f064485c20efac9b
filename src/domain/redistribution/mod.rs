//! What may leave and to whom: recipients and their approvals, response shapes (JSON Pointers to
//! the items, their ids and what `ids_only` keeps), the items of a response and the ids-only and
//! volume filter, the per-line decisions of streams, and the client fingerprints behind the resale
//! rule.

pub mod fingerprint;
pub mod items;
pub mod pointer;
pub mod recipient;
pub mod rewrite;
pub mod shape;
pub mod stream;
pub mod whole_body;
pub mod words;

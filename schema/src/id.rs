//! Typed ids: a workflow's id, a node's id and an A2 correspondence id are different things, and
//! the engine's signatures say which one they take (`release_items(owner: NodeId, ids:
//! &[WorkflowId])`), so a node id can not be passed where an item id belongs. The database columns
//! stay plain (`uuid`, `bigint`); the conversions are here.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! id {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The plain value, as stored.
            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$inner> for $name {
            fn from(v: $inner) -> Self {
                Self(v)
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(id: $name) -> Self {
                id.0.into()
            }
        }

        impl sea_orm::TryGetable for $name {
            fn try_get_by<I: sea_orm::ColIdx>(
                res: &sea_orm::QueryResult,
                index: I,
            ) -> Result<Self, sea_orm::TryGetError> {
                <$inner as sea_orm::TryGetable>::try_get_by(res, index).map(Self)
            }
        }
    };
}

id! {
    /// A workflow (one item of the migration): `workflows.id`, a UUID v7.
    WorkflowId(Uuid)
}

id! {
    /// A dispatcher process: `nodes.id`, new per process start; leases and firings carry it.
    NodeId(Uuid)
}

id! {
    /// One claim of a node: `workflows.lease_claim`, new per claim. A lease is released and a
    /// worker's commit fenced by it, so a claim whose reply was lost can be undone, and a run
    /// superseded by a newer claim of the same item cannot write.
    ClaimId(Uuid)
}

id! {
    /// An Altinn 2 correspondence: `Altinn2CorrespondenceId`, the item's identity across systems.
    A2Id(i64)
}

impl WorkflowId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for WorkflowId {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl ClaimId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for ClaimId {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for NodeId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_bind_and_print_as_their_value() {
        let u = Uuid::now_v7();
        assert_eq!(sea_orm::Value::from(WorkflowId(u)), sea_orm::Value::from(u));
        assert_eq!(sea_orm::Value::from(A2Id(7)), sea_orm::Value::from(7i64));
        assert_eq!(A2Id(42).to_string(), "42");
        assert_eq!(serde_json::to_string(&NodeId(u)).unwrap(), format!("\"{u}\""));
    }
}

//! New work: inserting items, or making Synced items pending, tells the dispatchers at once
//! instead of leaving them to their next idle poll. Within this process through a watch channel;
//! across PostgreSQL nodes through `NOTIFY` on [`CHANNEL`], which [`Store::listen_for_work`] turns
//! back into the same signal. The idle poll stays as the safety net: SQLite has no push between
//! processes, and a notification can be missed while a listener reconnects.

use super::Store;
use sea_orm::{ConnectionTrait, DbBackend};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The PostgreSQL notification channel.
pub(crate) const CHANNEL: &str = "migrator_new_work";

impl Store {
    /// Tells this process's dispatchers, and on PostgreSQL every node's, that there is new work.
    /// Best effort: a failed notification only means the idle poll finds the work.
    pub(super) async fn announce_work(&self) {
        self.new_work.send_modify(|n| *n = n.wrapping_add(1));
        if self.backend() == DbBackend::Postgres
            && let Err(e) = self.db.execute_unprepared(&format!("NOTIFY {CHANNEL}")).await
        {
            tracing::debug!(error = %e, "cannot notify other nodes of new work; their idle poll finds it");
        }
    }

    /// A receiver that sees a change whenever new work is announced (in this process, or by
    /// another node while [`Store::listen_for_work`] runs).
    pub fn new_work(&self) -> watch::Receiver<u64> {
        self.new_work.subscribe()
    }

    /// On PostgreSQL, until `cancel`: listens for other nodes' announcements and passes them on to
    /// [`Store::new_work`]'s receivers, reconnecting after a failure. Does nothing on SQLite.
    pub async fn listen_for_work(&self, cancel: CancellationToken) {
        let Some(pool) =
            (self.backend() == DbBackend::Postgres).then(|| self.db.get_postgres_connection_pool())
        else {
            return;
        };
        loop {
            let listened = async {
                let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANNEL).await?;
                loop {
                    listener.recv().await?;
                    self.new_work.send_modify(|n| *n = n.wrapping_add(1));
                }
                #[allow(unreachable_code)]
                Ok::<(), sea_orm::sqlx::Error>(())
            };
            tokio::select! {
                _ = cancel.cancelled() => return,
                Err(e) = listened => tracing::debug!(error = %e, "listening for new work failed; listening again"),
            }
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }
}

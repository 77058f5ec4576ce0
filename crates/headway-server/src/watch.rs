//! Watches the tenants directory (and plugin folders outside it) and runs every
//! reload on one task: events are debounced, then [`Registry::reconcile`] runs off
//! the async workers. A slow poll backs the watcher up where file events are lost
//! (network filesystems, editors that swap folders). In a fleet, a build
//! published to the database wakes the same loop: a thread listens for the
//! database's announcements.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use crate::registry::Registry;

/// What woke the reload loop.
enum Wake {
    /// A file changed under a watched folder.
    Files,
    /// The fleet database announced a build (or the connection to it came back).
    Fleet,
}

/// Starts watching now (so no change after this returns is missed), then reloads
/// on a task until `stop` fires.
pub fn spawn(
    registry: Arc<Registry>,
    fleet: Option<String>,
    debounce: Duration,
    poll: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    if let Some(url) = fleet {
        let wake = tx.clone();
        std::thread::Builder::new()
            .name("headway-fleet".into())
            .spawn(move || listen(&url, &wake))
            .expect("a thread for the fleet's announcements");
    }
    let mut watcher: Option<RecommendedWatcher> =
        match notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Reading a file is an event too (the loader's own reads among them);
            // only changes matter.
            if event.is_ok_and(|e| !e.kind.is_access()) {
                let _ = tx.send(Wake::Files);
            }
        }) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("file watching unavailable, polling every {poll:?}: {e}");
                None
            }
        };
    let mut watched: Vec<PathBuf> = Vec::new();
    update_watches(watcher.as_mut(), &registry, &mut watched);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                got = rx.recv() => match got {
                    None => return,
                    // A publication is one event: no burst to wait out.
                    Some(Wake::Fleet) => {}
                    // Debounce: wait until the burst of file events is over.
                    Some(Wake::Files) => {
                        while let Ok(Some(_)) = tokio::time::timeout(debounce, rx.recv()).await {}
                    }
                },
                _ = tokio::time::sleep(poll) => {}
            }
            let reconciling = Arc::clone(&registry);
            match tokio::task::spawn_blocking(move || reconciling.reconcile()).await {
                Ok(done) if done != Default::default() => tracing::debug!(?done, "reconciled"),
                Ok(_) => {}
                Err(e) => tracing::error!("reload task failed: {e}"),
            }
            // Tenants may have moved their plugins: follow them.
            update_watches(watcher.as_mut(), &registry, &mut watched);
        }
    })
}

fn update_watches(
    watcher: Option<&mut RecommendedWatcher>,
    registry: &Registry,
    watched: &mut Vec<PathBuf>,
) {
    let Some(watcher) = watcher else { return };
    let wanted = registry.watched_dirs();
    if wanted == *watched {
        return;
    }
    for dir in watched.iter().filter(|d| !wanted.contains(d)) {
        let _ = watcher.unwatch(dir);
    }
    for (i, dir) in wanted.iter().enumerate() {
        if watched.contains(dir) {
            continue;
        }
        // The root holds tenant folders: recursive. Plugin folders: just the files.
        let mode = if i == 0 {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        if let Err(e) = watcher.watch(dir, mode) {
            tracing::warn!(dir = %dir.display(), "cannot watch: {e}");
        }
    }
    *watched = wanted;
}

/// Wakes the reload loop whenever the fleet database announces an activation,
/// until the loop is gone. A lost connection is retried every second, and each
/// reconnection wakes the loop too (an announcement may have been missed).
fn listen(url: &str, wake: &mpsc::UnboundedSender<Wake>) {
    let mut listener: Option<headway_store::BuildListener> = None;
    while !wake.is_closed() {
        let Some(connected) = listener.as_mut() else {
            match headway_store::BuildListener::connect(url) {
                Ok(l) => {
                    listener = Some(l);
                    let _ = wake.send(Wake::Fleet);
                }
                Err(e) => {
                    tracing::warn!("fleet announcements unavailable, retrying: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            continue;
        };
        match connected.wait(Duration::from_secs(1)) {
            Ok(tenants) if tenants.is_empty() => {}
            Ok(tenants) => {
                tracing::debug!(?tenants, "builds published");
                let _ = wake.send(Wake::Fleet);
            }
            Err(e) => {
                tracing::warn!("fleet announcements lost, reconnecting: {e}");
                listener = None;
            }
        }
    }
}

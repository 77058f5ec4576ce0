//! `headway publish`: a build to every server of a fleet.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use headway_store::{PgStore, Publication, StoreLocation};

/// Publish a plugin build to a fleet: checked here as a server's reload would
/// check it, then kept in the shared PostgreSQL store and made the tenant's
/// build on every server sharing it.
#[derive(clap::Args)]
pub struct PublishArgs {
    /// The fleet's store (a postgres:// URL).
    #[arg(long, value_parser = StoreLocation::parse)]
    store: StoreLocation,
    /// The tenant's folder (its tenant.toml and fixtures.jsonl are the gate).
    #[arg(long)]
    tenant: PathBuf,
    /// The component to publish.
    plugin: PathBuf,
}

pub fn publish(args: &PublishArgs) -> Result<()> {
    let StoreLocation::Postgres(url) = &args.store else {
        bail!(
            "`{}` is a SQLite file: a single server reads its plugins from its tenants directory; \
             publish to a postgres:// store",
            args.store
        );
    };
    let mut tenant = headway_host::load_tenant_config(&args.tenant)?;
    tenant.plugin = args.plugin.clone();
    let bytes = headway_host::read_plugin(&args.plugin)?;
    let plugin = crate::plugin_runtime()?
        .load_tenant(&tenant, &bytes)
        .with_context(|| format!("tenant `{}`", tenant.id))?;
    let fixtures = args.tenant.join("fixtures.jsonl");
    let text = headway_host::read_tenant_fixtures(&args.tenant)
        .with_context(|| format!("cannot read `{}`", fixtures.display()))?;
    if let Some(Err(failed)) = text.map(|t| plugin.check_fixtures(&t)) {
        bail!(
            "`{}` is not published: {}: {failed}",
            args.plugin.display(),
            fixtures.display()
        );
    }
    let built = plugin.plugin_ref();
    let activation = PgStore::connect(url)?.publish(
        &tenant.id,
        &Publication {
            component: &bytes,
            digest: &built.digest,
            name: &built.name,
            version: &built.version,
            by: "cli",
        },
    )?;
    eprintln!(
        "published {} {} ({}) for tenant `{}` to `{}`: activation {}; every server of the fleet loads it",
        built.name, built.version, built.digest, tenant.id, args.store, activation.id
    );
    Ok(())
}

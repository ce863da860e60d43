//! Starting the HealthLake emulator for a stack: as the local account and
//! Region, writing exports into the directory that stands for S3 (which it
//! also serves as S3), verifying FHIR REST signatures against the local
//! credentials, on a loopback port, with the stack's data stores created.

use hlx_clock::SharedClock;
use hlx_healthlake_emulator::{Emulator, EmulatorConfig, ServerHandle};

use crate::config::StackConfig;
use crate::names::{ACCOUNT, LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, REGION};

/// The emulator, its server and the data stores created in it, in order.
pub(crate) struct StartedEmulator {
    pub(crate) emulator: Emulator,
    pub(crate) server: ServerHandle,
    pub(crate) datastores: Vec<String>,
}

/// Creates the output directory, starts the emulator on `clock` and
/// creates `config.datastores` data stores (`clinic-1`, ...).
pub(crate) async fn start(config: &StackConfig, clock: SharedClock) -> Result<StartedEmulator, String> {
    std::fs::create_dir_all(&config.output_dir)
        .map_err(|e| format!("{}: {e}", config.output_dir.display()))?;
    let emulator = Emulator::new(
        EmulatorConfig {
            seed: config.seed,
            resources_per_file: config.resources_per_file,
            region: REGION.into(),
            account_id: ACCOUNT.into(),
            output_root: Some(config.output_dir.clone()),
            faults: config.faults.clone(),
            churn: config.churn,
            // The functions sign with the stack's credentials; the
            // emulator verifies every FHIR REST request against them.
            credentials: [(LOCAL_ACCESS_KEY.to_owned(), LOCAL_SECRET_KEY.to_owned())].into(),
            ..EmulatorConfig::default()
        },
        clock,
    );
    let server = emulator
        .serve("127.0.0.1:0".parse().expect("loopback"))
        .await
        .map_err(|e| format!("the HealthLake emulator could not listen: {e}"))?;
    let datastores = (1..=config.datastores)
        .map(|n| emulator.create_datastore(&format!("clinic-{n}"), Some(config.profile.clone())))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("a data store could not be created: {e}"))?;
    Ok(StartedEmulator {
        emulator,
        server,
        datastores,
    })
}

//! The job state machine as the stack runs it: the repository's
//! `statemachine/job.asl.json` (or a copy built in, for a binary run away
//! from its checkout), its function ARNs substituted as the deployed
//! stacks' `DefinitionSubstitutions` do (and the stack's topic for its notices).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hlx_asl_runner::StateMachine;

use crate::names::{FUNCTIONS, function_arn};

/// The deployed definition, as the repository has it.
pub const DEFINITION_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine/job.asl.json");
/// The same file, built in, for a binary run away from its checkout.
const DEFINITION: &str = include_str!("../../../statemachine/job.asl.json");

/// Loads the definition with the local function ARNs substituted.
pub fn load_definition(path: Option<&Path>) -> Result<Arc<StateMachine>, String> {
    let text = match path {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
        None => std::fs::read_to_string(DEFINITION_PATH).unwrap_or_else(|_| DEFINITION.to_owned()),
    };
    let mut substitutions: BTreeMap<String, String> = FUNCTIONS
        .iter()
        .map(|(placeholder, name)| (placeholder.to_string(), function_arn(name)))
        .collect();
    substitutions.insert("AlarmTopicArn".into(), crate::topic::topic_arn());
    StateMachine::load(&text, &substitutions)
        .map(|machine| Arc::new(machine.with_name("hlx-job")))
        .map_err(|e| format!("the state machine definition was refused: {e}"))
}

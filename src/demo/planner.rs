//! How the demo world's fictional clusters would be driven: Strimzi on both
//! sides, the applications as Deployments. The demo console previews the
//! same requests a real one would send; the demo world then carries the
//! action out in its simulation.

use std::path::Path;

use crate::act::plan::Planner;
use crate::config;

const DEMO_CONFIG: &str = r#"
[clusters.dc]
bootstrap = "dc-kafka.example:9092"
kube_context = "dc"
namespace = "kafka"
workloads = [
  { kind = "Deployment", namespace = "apps", name = "redis-journal", replicas = 2 },
  { kind = "Deployment", namespace = "apps", name = "orders-service", replicas = 2 },
  { kind = "Deployment", namespace = "apps", name = "payments-service", replicas = 2 },
]

[clusters.dr]
bootstrap = "dr-kafka.example:9092"
kube_context = "dr"
namespace = "kafka"
workloads = [
  { kind = "Deployment", namespace = "apps", name = "redis-journal", replicas = 2 },
  { kind = "Deployment", namespace = "apps", name = "orders-service", replicas = 2 },
  { kind = "Deployment", namespace = "apps", name = "payments-service", replicas = 2 },
]

[[mm2]]
source = "dc"
target = "dr"
replicas = 2

[[mm2]]
source = "dr"
target = "dc"
replicas = 2
"#;

/// The demo's planner; `None` only if its embedded configuration were
/// invalid, which a unit test rules out.
pub fn planner() -> Option<Planner> {
    let cfg = config::parse(DEMO_CONFIG, Path::new("<demo>")).ok()?;
    Some(Planner::new(&cfg))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_configuration_is_valid() {
        assert!(super::planner().is_some());
    }
}

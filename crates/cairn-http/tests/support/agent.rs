//! A fake agent: local services and checks in memory, recorded control calls.

use cairn_http::{
    AgentApi, AgentSelf, AgentSelfConfig, ApiError, ApiFuture, EventLog, GaugeValue, LogLevel,
    LogStream, MetricsSummary, SampledValue, ServiceRegisterOptions, UserEvent,
};
use cairn_types::{
    AgentCheckRegistration, AgentService, AgentServiceRegistration, CheckStatus, HealthCheck,
    Member, MemberStatus,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
pub struct FakeAgent {
    pub services: Mutex<BTreeMap<String, AgentService>>,
    pub checks: Mutex<BTreeMap<String, HealthCheck>>,
    /// Control calls, as text (`join 10.0.0.2 wan=false`, `leave`, …).
    pub calls: Mutex<Vec<String>>,
    pub events: EventLog,
    /// Tokens seen by registrations.
    pub tokens: Mutex<Vec<String>>,
}

fn member(name: &str, role: &str) -> Member {
    Member {
        name: name.into(),
        addr: "127.0.0.1".into(),
        port: 8301,
        tags: BTreeMap::from([
            ("role".to_string(), role.to_string()),
            ("dc".to_string(), "dc1".to_string()),
        ]),
        status: MemberStatus::Alive,
        protocol_min: 1,
        protocol_max: 5,
        protocol_cur: 2,
        delegate_min: 2,
        delegate_max: 5,
        delegate_cur: 4,
    }
}

impl FakeAgent {
    pub fn new() -> FakeAgent {
        FakeAgent::default()
    }

    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// Add a check directly (setup).
    pub fn add_check(&self, check: HealthCheck) {
        self.checks
            .lock()
            .unwrap()
            .insert(check.check_id.clone(), check);
    }
}

impl AgentApi for FakeAgent {
    fn self_info(&self) -> ApiFuture<'_, AgentSelf> {
        Box::pin(async move {
            Ok(AgentSelf {
                config: AgentSelfConfig {
                    datacenter: "dc1".into(),
                    primary_datacenter: "dc1".into(),
                    node_name: "node1".into(),
                    node_id: "11111111-2222-3333-4444-555555555555".into(),
                    server: true,
                    version: "1.17.0".into(),
                    session_ttl_min: Duration::from_secs(10),
                    ..AgentSelfConfig::default()
                },
                debug_config: serde_json::json!({"SessionTTLMin": "10s"}),
                member: member("node1", "consul"),
                stats: BTreeMap::from([(
                    "consul".to_string(),
                    BTreeMap::from([("leader_addr".to_string(), "127.0.0.1:8300".to_string())]),
                )]),
                ..AgentSelf::default()
            })
        })
    }

    fn members(&self, wan: bool, segment: String) -> ApiFuture<'_, Vec<cairn_types::Member>> {
        Box::pin(async move {
            self.record(format!("members wan={wan} segment={segment}"));
            if wan {
                return Ok(vec![member("node1.dc1", "consul")]);
            }
            Ok(vec![member("node1", "consul"), member("client1", "node")])
        })
    }

    fn join(&self, address: String, wan: bool) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.record(format!("join {address} wan={wan}"));
            if address == "bad" {
                return Err(ApiError::internal(
                    "1 error occurred:\n\t* Failed to resolve bad",
                ));
            }
            Ok(())
        })
    }

    fn leave(&self) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.record("leave".into());
            Ok(())
        })
    }

    fn force_leave(&self, node: String, prune: bool, wan: bool) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.record(format!("force-leave {node} prune={prune} wan={wan}"));
            Ok(())
        })
    }

    fn reload(&self) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.record("reload".into());
            Ok(())
        })
    }

    fn services(&self) -> ApiFuture<'_, BTreeMap<String, AgentService>> {
        Box::pin(async move { Ok(self.services.lock().unwrap().clone()) })
    }

    fn register_service(
        &self,
        registration: AgentServiceRegistration,
        opts: ServiceRegisterOptions,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let mut svc = registration.to_agent_service();
            svc.datacenter = "dc1".into();
            let checks = registration.check_types().map_err(ApiError::bad_request)?;
            self.tokens.lock().unwrap().push(opts.token);
            let mut all = self.checks.lock().unwrap();
            if opts.replace_existing_checks {
                all.retain(|_, c| c.service_id != svc.id);
            }
            for c in checks {
                let hc = c
                    .to_health_check("node1", Some(&svc))
                    .map_err(ApiError::bad_request)?;
                all.insert(hc.check_id.clone(), hc);
            }
            self.services.lock().unwrap().insert(svc.id.clone(), svc);
            Ok(())
        })
    }

    fn deregister_service(&self, service_id: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.services.lock().unwrap().remove(&service_id);
            self.checks
                .lock()
                .unwrap()
                .retain(|_, c| c.service_id != service_id);
            Ok(())
        })
    }

    fn service_maintenance(
        &self,
        service_id: String,
        enable: bool,
        reason: String,
        _token: String,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let svc = self
                .services
                .lock()
                .unwrap()
                .get(&service_id)
                .cloned()
                .ok_or_else(|| {
                    ApiError::internal(format!("No service registered with ID {service_id:?}"))
                })?;
            let id = format!("_service_maintenance:{service_id}");
            let mut checks = self.checks.lock().unwrap();
            if enable {
                checks.insert(
                    id.clone(),
                    HealthCheck {
                        node: "node1".into(),
                        check_id: id,
                        name: "Service Maintenance Mode".into(),
                        notes: reason,
                        status: CheckStatus::Critical,
                        service_id: svc.id,
                        service_name: svc.service,
                        ..HealthCheck::default()
                    },
                );
            } else {
                checks.remove(&id);
            }
            Ok(())
        })
    }

    fn node_maintenance(&self, enable: bool, reason: String, _token: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            self.record(format!("maintenance enable={enable} reason={reason}"));
            let mut checks = self.checks.lock().unwrap();
            if enable {
                checks.insert(
                    "_node_maintenance".into(),
                    HealthCheck {
                        node: "node1".into(),
                        check_id: "_node_maintenance".into(),
                        name: "Node Maintenance Mode".into(),
                        notes: reason,
                        status: CheckStatus::Critical,
                        ..HealthCheck::default()
                    },
                );
            } else {
                checks.remove("_node_maintenance");
            }
            Ok(())
        })
    }

    fn checks(&self) -> ApiFuture<'_, BTreeMap<String, HealthCheck>> {
        Box::pin(async move { Ok(self.checks.lock().unwrap().clone()) })
    }

    fn register_check(&self, check: AgentCheckRegistration, _token: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let svc = self
                .services
                .lock()
                .unwrap()
                .get(&check.service_id)
                .cloned();
            let hc = check
                .to_health_check("node1", svc.as_ref())
                .map_err(ApiError::bad_request)?;
            self.add_check(hc);
            Ok(())
        })
    }

    fn deregister_check(&self, check_id: String) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            match self.checks.lock().unwrap().remove(&check_id) {
                Some(_) => Ok(()),
                None => Err(ApiError::internal(format!(
                    "Unknown check ID {check_id:?}. Ensure that the check ID is passed, not the check name."
                ))),
            }
        })
    }

    fn update_ttl_check(
        &self,
        check_id: String,
        status: CheckStatus,
        output: String,
    ) -> ApiFuture<'_, ()> {
        Box::pin(async move {
            let mut checks = self.checks.lock().unwrap();
            match checks.get_mut(&check_id) {
                Some(c) => {
                    c.status = status;
                    c.output = output;
                    Ok(())
                }
                None => Err(ApiError::not_found(format!(
                    "Unknown check ID {check_id:?}. Ensure that the check ID is passed, not the check name."
                ))),
            }
        })
    }

    fn metrics(&self) -> ApiFuture<'_, MetricsSummary> {
        Box::pin(async move {
            Ok(MetricsSummary {
                timestamp: "2024-01-02 03:04:00 +0000 UTC".into(),
                gauges: vec![GaugeValue {
                    name: "consul.runtime.num_goroutines".into(),
                    value: 42.0,
                    labels: BTreeMap::new(),
                }],
                counters: vec![SampledValue {
                    name: "consul.client.rpc".into(),
                    count: 5,
                    rate: 0.5,
                    sum: 5.0,
                    min: 1.0,
                    max: 1.0,
                    mean: 1.0,
                    ..SampledValue::default()
                }],
                ..MetricsSummary::default()
            })
        })
    }

    fn monitor(&self, level: LogLevel, json: bool) -> ApiFuture<'_, LogStream> {
        Box::pin(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(8);
            let _ = tx.try_send(format!("[{level}] agent: monitor started json={json}"));
            let _ = tx.try_send("[INFO] agent: second line".to_string());
            // Dropping the sender ends the stream.
            Ok(rx)
        })
    }

    fn fire_event(&self, mut event: UserEvent) -> ApiFuture<'_, UserEvent> {
        Box::pin(async move {
            event.ltime = self.events.list().len() as u64 + 1;
            self.events.push(event.clone());
            Ok(event)
        })
    }

    fn events(&self, min_index: u64, wait: Duration) -> ApiFuture<'_, Vec<UserEvent>> {
        Box::pin(async move { Ok(self.events.wait_list(min_index, wait).await) })
    }
}

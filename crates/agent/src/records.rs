//! The agent's record of every invocation it accepted, on disk, so that a redelivered
//! invocation is answered from the record instead of running twice, and a result that
//! could not be sent is sent after reconnecting.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use steward_protocol::{Invocation, InvocationResult, PluginResult};

/// One record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// What was asked.
    pub invocation: Invocation,
    /// The outcome, once finished.
    pub result: Option<InvocationResult>,
    /// Whether the server acknowledged storing the result.
    pub reported: bool,
}

/// What to do with an arriving invocation.
pub enum Arrival {
    /// New: run it.
    New,
    /// Already running: nothing.
    Running,
    /// Already finished: send this result again.
    Finished(InvocationResult),
}

/// How long a reported record is kept: the server forgets a command 30 days after it
/// ends, so nothing can be redelivered later than that.
const KEPT: std::time::Duration = std::time::Duration::from_secs(31 * 86_400);

/// The records directory.
#[derive(Clone)]
pub struct Records {
    dir: PathBuf,
}

fn file_name(invocation_id: &str) -> String {
    let safe: String =
        invocation_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("{safe}.json")
}

impl Records {
    /// Opens (creating) the records under `state_dir`; invocations that were running when
    /// the agent stopped are closed as Failed, to be reported — except those that rebooted
    /// the node, which resume.
    pub fn open(state_dir: &Path) -> anyhow::Result<Records> {
        let dir = state_dir.join("invocations");
        fs::create_dir_all(&dir)?;
        let records = Records { dir };
        let rebooted = crate::reboot::pending(state_dir);
        for mut record in records.all() {
            if record.result.is_none() && !rebooted.contains(&record.invocation.invocation_id) {
                let now = now_ms();
                record.result = Some(InvocationResult {
                    invocation_id: record.invocation.invocation_id.clone(),
                    status: "Failed".into(),
                    plugins: record
                        .invocation
                        .plugins
                        .iter()
                        .map(|p| PluginResult {
                            name: p.name.clone(),
                            status: "Failed".into(),
                            response_code: -1,
                            stdout: String::new(),
                            stderr: "The agent stopped while this command was running.".into(),
                            started: now,
                            ended: now,
                        })
                        .collect(),
                });
                record.reported = false;
                records.save(&record)?;
            }
        }
        records.prune();
        Ok(records)
    }

    /// Deletes records the server has stored and that are older than [`KEPT`], so the
    /// directory does not grow for as long as the node lives; returns how many went.
    pub fn prune(&self) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else { return 0 };
        let cutoff = std::time::SystemTime::now().checked_sub(KEPT).unwrap_or(std::time::UNIX_EPOCH);
        let mut removed = 0;
        for entry in entries.filter_map(|e| e.ok()) {
            let path = entry.path();
            let old = entry.metadata().and_then(|m| m.modified()).is_ok_and(|t| t < cutoff);
            if !old || path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let reported = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
                .is_some_and(|r| r.reported);
            if reported && fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn save(&self, record: &Record) -> anyhow::Result<()> {
        let path = self.dir.join(file_name(&record.invocation.invocation_id));
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(record)?)?;
        fs::File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn load(&self, invocation_id: &str) -> Option<Record> {
        let text = fs::read(self.dir.join(file_name(invocation_id))).ok()?;
        serde_json::from_slice(&text).ok()
    }

    fn all(&self) -> Vec<Record> {
        let Ok(entries) = fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
            .collect()
    }

    /// Records an arriving invocation before it runs (exactly-once execution).
    pub fn accept(&self, invocation: &Invocation) -> anyhow::Result<Arrival> {
        match self.load(&invocation.invocation_id) {
            Some(Record { result: Some(result), .. }) => Ok(Arrival::Finished(result)),
            Some(_) => Ok(Arrival::Running),
            None => {
                self.save(&Record { invocation: invocation.clone(), result: None, reported: false })?;
                Ok(Arrival::New)
            }
        }
    }

    /// An accepted invocation that has no result yet.
    pub fn unfinished(&self, invocation_id: &str) -> Option<Invocation> {
        self.load(invocation_id).filter(|r| r.result.is_none()).map(|r| r.invocation)
    }

    /// Records the outcome.
    pub fn finish(&self, result: &InvocationResult) -> anyhow::Result<()> {
        if let Some(mut record) = self.load(&result.invocation_id) {
            record.result = Some(result.clone());
            self.save(&record)?;
        }
        Ok(())
    }

    /// Marks a result as stored by the server.
    pub fn reported(&self, invocation_id: &str) {
        if let Some(mut record) = self.load(invocation_id) {
            record.reported = true;
            let _ = self.save(&record);
        }
    }

    /// Results finished but not yet sent (asked at each connection, which also prunes).
    pub fn unreported(&self) -> Vec<InvocationResult> {
        self.prune();
        self.all().into_iter().filter(|r| !r.reported).filter_map(|r| r.result).collect()
    }
}

/// Now in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invocation(id: &str) -> Invocation {
        Invocation {
            invocation_id: id.into(),
            command_id: "c".into(),
            document_name: "d".into(),
            plugins: vec![],
            execution_timeout_seconds: 60,
        }
    }

    #[test]
    fn old_reported_records_are_pruned_and_the_rest_kept() {
        let dir = std::env::temp_dir().join(format!("steward-records-{}", std::process::id()));
        let records = Records::open(&dir).unwrap();
        for id in ["old-reported", "old-unreported", "new-reported"] {
            records.accept(&invocation(id)).unwrap();
            records
                .finish(&InvocationResult { invocation_id: id.into(), status: "Success".into(), plugins: vec![] })
                .unwrap();
        }
        records.reported("old-reported");
        records.reported("new-reported");
        let long_ago = std::time::SystemTime::now() - KEPT - std::time::Duration::from_secs(60);
        for id in ["old-reported", "old-unreported"] {
            fs::File::options()
                .write(true)
                .open(records.dir.join(file_name(id)))
                .unwrap()
                .set_modified(long_ago)
                .unwrap();
        }
        assert_eq!(records.prune(), 1);
        let left: Vec<String> = records.all().into_iter().map(|r| r.invocation.invocation_id).collect();
        assert!(!left.contains(&"old-reported".to_owned()));
        assert!(left.contains(&"old-unreported".to_owned()), "a result the server never stored stays");
        assert!(left.contains(&"new-reported".to_owned()));
        let _ = fs::remove_dir_all(dir);
    }
}

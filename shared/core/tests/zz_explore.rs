use std::fs::File;
use triage_core::parse::{self, Item};
use triage_core::{Config, Engine};

#[test]
fn explore() {
    let config = match std::env::var("CFG") { Ok(t) => Config::from_toml(&t).unwrap(), Err(_) => Config::default() };
    let engine = Engine::new(config.clone());
    let files: Vec<String> = std::env::var("FILES").unwrap().split(':').map(String::from).collect();
    for f in files {
        println!("===== {f}");
        let file = File::open(&f).unwrap();
        match parse::records(&f, file, &config) {
            Err(e) => println!("OPEN ERR {e}"),
            Ok(it) => for item in it {
                match item {
                    Ok(Item::Record(r)) => {
                        println!("REC {} {:?}", r.origin, r.fields.iter().map(|(k,v)| format!("{k}={}", v.to_string().chars().take(50).collect::<String>())).collect::<Vec<_>>());
                        match engine.normalise(r) {
                            Ok(a) => { let s = engine.assess(a, chrono::Utc::now()); println!("   OK {} {} {}", s.severity, s.rule, s.payload.chars().take(300).collect::<String>()); }
                            Err(e) => println!("   NREJ {e}"),
                        }
                    }
                    Ok(Item::Rejected(r)) => println!("REJ {r}"),
                    Err(e) => println!("FERR {e}"),
                }
            }
        }
    }
}

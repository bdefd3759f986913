//! A property test of the document engine: parse, analyze, resolve and interpolate must
//! return a value or a fault for any input, never panic. Inputs come from a seeded
//! generator biased toward the shapes documents have, so runs are repeatable.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use steward_core::documents::content::{self, Format};
use steward_core::documents::{interpolate, params, schema};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "schemaVersion",
    "2.2",
    "1.2",
    "0.3",
    "1.0",
    "2.0",
    "mainSteps",
    "runtimeConfig",
    "parameters",
    "action",
    "name",
    "inputs",
    "type",
    "default",
    "String",
    "StringList",
    "Integer",
    "Boolean",
    "MapList",
    "StringMap",
    "aws:runShellScript",
    "aws:sleep",
    "aws:runPowerShellScript",
    "properties",
    "sessionType",
    "Port",
    "precondition",
    "StringEquals",
    "platformType",
    "allowedPattern",
    "(",
    "[a-z]+",
    "allowedValues",
    "minItems",
    "maxChars",
    "{{",
    "}}",
    "{{ p }}",
    "{{p}}",
    "{{ ssm:/a/b }}",
    "{{ q }}",
    "x",
    "",
    " ",
    "é",
    "\u{0}",
    "onFailure",
    "step:x",
    "nextStep",
    "outputs",
    "x.y",
    "inputs",
    "idleSessionTimeout",
    "99",
    "-1",
    "packages",
    "files",
    "version",
];

fn tree(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 4 } else { 7 }) {
        0 => Value::String(rng.pick(WORDS).to_owned()),
        1 => Value::from(rng.next() as i64 % 1000),
        2 => Value::Bool(rng.below(2) == 0),
        3 => Value::Null,
        4 | 5 => {
            let mut map = Map::new();
            for _ in 0..rng.below(5) {
                map.insert(rng.pick(WORDS).to_owned(), tree(rng, depth - 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.below(4)).map(|_| tree(rng, depth - 1)).collect()),
    }
}

fn given(rng: &mut Rng) -> BTreeMap<String, Vec<String>> {
    (0..rng.below(3))
        .map(|_| {
            (
                rng.pick(&["p", "q", "commands", "x"]).to_owned(),
                (0..rng.below(3)).map(|_| rng.pick(WORDS).to_owned()).collect(),
            )
        })
        .collect()
}

#[test]
fn the_engine_never_panics() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    for _ in 0..20_000 {
        let t = tree(&mut rng, 4);
        for doc_type in schema::SUPPORTED_TYPES {
            let _ = schema::analyze(doc_type, &t);
        }
        if let Ok(defs) = params::parse_definitions(t.get("parameters")) {
            if let Ok(values) = params::resolve(&defs, &given(&mut rng)) {
                let _ = interpolate::apply(&t, &values);
            }
        }
        let mut values = BTreeMap::new();
        values.insert("p".to_owned(), tree(&mut rng, 2));
        let _ = interpolate::apply(&t, &values);
        let _ = interpolate::references(&t);
        for format in [Format::Json, Format::Yaml] {
            let text = content::render(&t, format);
            let _ = content::parse(&text, format);
        }
    }
}

#[test]
fn arbitrary_text_never_panics_the_parsers() {
    let mut rng = Rng(0x0dd5_eed5);
    let alphabet: Vec<char> = "{}[]:,\"'- \n\t#&*!|>%@`ab1.é\\".chars().collect();
    for _ in 0..20_000 {
        let len = rng.below(64);
        let text: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        for format in [Format::Json, Format::Yaml, Format::Text] {
            if let Ok(t) = content::parse(&text, format) {
                let _ = schema::analyze("Command", &t);
            }
        }
    }
}

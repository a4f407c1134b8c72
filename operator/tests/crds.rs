//! The checked-in CRDs are exactly what `crdgen` prints.

#[test]
fn checked_in_crds_match_the_generator() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/bleepstore.io.yaml");
    let checked_in = std::fs::read_to_string(path).expect("crds/bleepstore.io.yaml exists");
    let generated = bleepstore_operator::crd::all_yaml();
    assert!(
        checked_in == generated,
        "crds/bleepstore.io.yaml is stale; run: cargo run -p bleepstore-operator --bin crdgen > crds/bleepstore.io.yaml"
    );
}

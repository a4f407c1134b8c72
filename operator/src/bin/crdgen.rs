//! Prints every BleepStore CRD as YAML; `crds/bleepstore.io.yaml` is this output.

fn main() {
    print!("{}", bleepstore_operator::crd::all_yaml());
}

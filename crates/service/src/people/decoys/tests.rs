use super::*;

const SECRET: [u8; 32] = [7; 32];

#[test]
fn decoy_ids_are_stable_per_name_of_any_length_and_recognised() {
    for len in [16, 20, 32, 64, 100, 1023] {
        let ada = decoy_id(&SECRET, b"ada", 0, len);
        assert_eq!(ada.len(), len);
        assert_eq!(ada, decoy_id(&SECRET, b"ada", 0, len));
        assert_ne!(ada, decoy_id(&SECRET, b"bob", 0, len));
        assert_ne!(ada, decoy_id(&SECRET, b"ada", 1, len));
        assert!(is_decoy(&SECRET, &ada));
        assert!(!is_decoy(&[8; 32], &ada), "another server's secret");
        let mut forged = ada.clone();
        forged[len / 2] ^= 1;
        assert!(!is_decoy(&SECRET, &forged));
        assert!(!is_decoy(&SECRET, &ada[..len - 1]));
        let mut longer = ada.clone();
        longer.push(0);
        assert!(!is_decoy(&SECRET, &longer));
    }
    assert_eq!(decoy_id(&SECRET, b"ada", 0, 4).len(), 16, "clamped");
    assert_eq!(decoy_id(&SECRET, b"ada", 0, 5000).len(), 1023, "clamped");
    assert!(!is_decoy(&SECRET, &[]));
    assert!(!is_decoy(&SECRET, &[0; 15]));
}

fn rows(accounts: &[(&str, Shape)]) -> Vec<(String, usize, Vec<String>)> {
    accounts
        .iter()
        .flat_map(|(id, shape)| {
            shape
                .iter()
                .map(|(len, t)| (id.to_string(), *len, t.clone()))
        })
        .collect()
}

fn t(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn picks_follow_the_population() {
    let a: Shape = vec![(16, t(&["hybrid", "internal"]))];
    let b: Shape = vec![(16, t(&["hybrid", "internal"])), (64, t(&["nfc", "usb"]))];
    let population = Population::from_rows(rows(&[
        ("1", a.clone()),
        ("2", a.clone()),
        ("3", a.clone()),
        ("4", b.clone()),
    ]));
    assert_eq!(population.total, 4);
    let mut seen: HashMap<Shape, u64> = HashMap::new();
    for i in 0..4000u64 {
        // Evenly spread quantiles.
        let u = i.wrapping_mul(u64::MAX / 4000);
        *seen.entry(population.pick(u)).or_default() += 1;
    }
    assert_eq!(seen.len(), 2);
    assert!(seen[&a].abs_diff(3000) <= 1, "{}", seen[&a]);
    assert!(seen[&b].abs_diff(1000) <= 1, "{}", seen[&b]);
    // Nobody can sign in yet: a plausible passkey.
    let empty = Population::default();
    assert_eq!(empty.pick(12345).len(), 1);
}

#[test]
fn distinct_shapes_are_bounded() {
    let many: Vec<(String, Shape)> = (0..3 * MAX_SHAPES)
        .map(|i| (format!("{i:05}"), vec![(16 + i, Vec::new())]))
        .collect();
    let refs: Vec<(&str, Shape)> = many.iter().map(|(i, s)| (i.as_str(), s.clone())).collect();
    let population = Population::from_rows(rows(&refs));
    assert_eq!(population.shapes.len(), MAX_SHAPES);
}

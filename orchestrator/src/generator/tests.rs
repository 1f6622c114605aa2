//! Unit tests of the generator: seeded and realistic (languages, attachments, forwardings,
//! near-duplicates, exactly the deliberately invalid records failing validation), and broken
//! lines cut on character boundaries.

use super::export::break_line;
use super::*;
use chrono::Datelike;
use workers::validation::validate;

#[test]
fn seeded_and_realistic() {
    let opts = GeneratorOptions { invalid_rate: 0.05, ..GeneratorOptions::default() };
    let a: Vec<_> = {
        let mut g = Generator::new(opts);
        (0..500).map(|_| g.record()).collect()
    };
    let b: Vec<_> = {
        let mut g = Generator::new(opts);
        (0..500).map(|_| g.record()).collect()
    };
    assert_eq!(a, b, "same seed, same data");
    let invalid: std::collections::BTreeSet<i64> =
        a.iter().filter(|r| validate(r).is_some()).map(|r| r.altinn2_correspondence_id).collect();
    assert!((5..=60).contains(&invalid.len()), "{} invalid of 500", invalid.len());
    let mut g = Generator::new(opts);
    (0..500).for_each(|_| drop(g.record()));
    assert_eq!(&invalid, g.invalid_ids(), "exactly the deliberately invalid records fail validation");
    for lang in ["nb", "nn", "en"] {
        assert!(a.iter().any(|r| r.language == lang), "{lang} present");
    }
    assert!(a.iter().any(|r| !r.attachments.is_empty()));
    assert!(a.iter().any(|r| !r.forwarding_history.is_empty()));
    // Near-duplicates exist: more events than distinct dedup keys.
    let events: Vec<_> = a.iter().flat_map(|r| r.events()).collect();
    let keys: std::collections::HashSet<_> = a
        .iter()
        .flat_map(|r| r.events().into_iter().map(move |e| (r.altinn2_correspondence_id, e.dedup_key())))
        .collect();
    assert!(keys.len() < events.len());
}

#[test]
fn broken_lines_are_cut_on_character_boundaries() {
    let mut rng = StdRng::seed_from_u64(7);
    let line = "{\"title\":\"ÅÆØ åæø ÅÆØ åæø\",\"created\":\"2024-01-01T00:00:00Z\"}";
    for _ in 0..100 {
        let _ = break_line(line, &mut rng);
    }
}

#[test]
fn a_known_count_gives_creation_dates_rising_with_the_id_across_the_span() {
    let opts = GeneratorOptions { count: Some(1000), ..GeneratorOptions::default() };
    let mut g = Generator::new(opts);
    let records: Vec<_> = (0..1000).map(|_| g.record()).collect();
    assert!(
        records.windows(2).all(|w| w[0].created < w[1].created),
        "a later A2 id is a later creation, as in Altinn 2"
    );
    let (first, last) = (records[0].created, records[999].created);
    assert_eq!((first.year(), last.year()), (2019, 2025), "the whole span is used: {first} .. {last}");
    // Unknown count: each date drawn from the span, so they are not in id order.
    let mut g = Generator::new(GeneratorOptions::default());
    let random: Vec<_> = (0..1000).map(|_| g.record().created).collect();
    assert!(random.windows(2).any(|w| w[0] > w[1]));
    assert!(random.iter().all(|c| (2019..=2025).contains(&c.year())));
}

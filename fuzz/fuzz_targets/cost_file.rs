//! The billing file readers: any bytes as a FOCUS, CUR or CUR 2.0 CSV read without a panic; a refusal names the
//! file and, for a bad line, a line inside the input; what is accepted is consistent (every line in one period
//! and one daily sum) and reads the same twice. The same bytes as an amount: what parses prints and parses back
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portolan_core::cost::CostError;
use portolan_core::cost::import::Aggregate;
use portolan_core::cost::money::Amount;

fuzz_target!(|data: &[u8]| {
    match Aggregate::read_stream(data, "fuzz.csv") {
        Ok(agg) => {
            assert!(agg.consistent(), "line counts disagree");
            let again = Aggregate::read_stream(data, "fuzz.csv").expect("a second read");
            assert_eq!(agg.grand_totals(), again.grand_totals());
            assert_eq!(agg.lines, again.lines);
        }
        Err(CostError::File { file, line, .. }) => {
            assert_eq!(file, "fuzz.csv");
            let lines = data.iter().filter(|b| **b == b'\n' || **b == b'\r').count() as u64 + 1;
            assert!(line <= lines, "line {line} of a {lines}-line input");
        }
        Err(other) => panic!("a reader error that is not about the file: {other}"),
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(a) = Amount::parse(text)
    {
        let printed = a.to_string();
        assert_eq!(Amount::parse(&printed).ok(), Some(a), "{text:?} printed as {printed}");
    }
});

//! The registry and its metric families: counters, gauges and histograms,
//! each a family of series told apart by label values.
//!
//! A family's arity (how many labels) is a type parameter, so a call with
//! the wrong number of label values does not compile. Finding a series
//! takes a read lock and a hash lookup without allocating; updating it is
//! one atomic operation, so callers on a hot path may keep the handle.
//!
//! Memory is bounded whatever the label values: each value is cut to
//! [`MAX_LABEL_VALUE_BYTES`], and once a family holds its cap of series
//! every new label set lands in one overflow series whose every label value
//! is [`OVERFLOW_LABEL`].

use crate::text;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

/// The label value of the series that takes every label set beyond a
/// family's cap.
pub const OVERFLOW_LABEL: &str = "other";

/// The longest label value kept, in bytes; longer ones are cut at a
/// character boundary.
pub const MAX_LABEL_VALUE_BYTES: usize = 128;

/// Series per family unless [`Registry::with_series_cap`] says otherwise.
pub const DEFAULT_SERIES_CAP: usize = 1000;

/// Why a metric could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The metric name is not `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("{0:?} is not a valid metric name")]
    InvalidName(String),
    /// A label name is not `[a-zA-Z_][a-zA-Z0-9_]*`, starts with `__`, or
    /// is `le` on a histogram.
    #[error("{0:?} is not a valid label name here")]
    InvalidLabel(String),
    /// Two labels of one metric have the same name.
    #[error("label {0:?} appears twice")]
    DuplicateLabel(String),
    /// A metric of this name is already registered.
    #[error("a metric named {0:?} is already registered")]
    Duplicate(String),
    /// Histogram buckets must be finite and strictly increasing, at least one.
    #[error("histogram buckets must be finite, strictly increasing and not empty")]
    InvalidBuckets,
}

/// The kind of a metric, as its `# TYPE` line says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A set of metric families, rendered together. Cloning is cheap and
/// clones share the families.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<RwLock<Inner>>,
}

struct Inner {
    series_cap: usize,
    families: Vec<Arc<dyn Collect>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let names: Vec<&str> = inner
            .families
            .iter()
            .map(|f| f.meta().name.as_str())
            .collect();
        f.debug_struct("Registry")
            .field("series_cap", &inner.series_cap)
            .field("families", &names)
            .finish()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// An empty registry, [`DEFAULT_SERIES_CAP`] series per family.
    pub fn new() -> Registry {
        Registry {
            inner: Arc::new(RwLock::new(Inner {
                series_cap: DEFAULT_SERIES_CAP,
                families: Vec::new(),
            })),
        }
    }

    /// Families registered from now on hold at most `cap` series (at least
    /// one) before new label sets go to the overflow series.
    pub fn with_series_cap(self, cap: usize) -> Registry {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .series_cap = cap.max(1);
        self
    }

    /// Registers a counter family with these label names.
    ///
    /// ```
    /// let registry = mail_metrics::Registry::new();
    /// let sent = registry.counter("demo_sent_total", "Messages sent.", ["listener"])?;
    /// sent.with(["smtp"]).inc();
    /// assert!(registry.render().contains("demo_sent_total{listener=\"smtp\"} 1\n"));
    /// # Ok::<(), mail_metrics::RegistryError>(())
    /// ```
    pub fn counter<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<CounterFamily<N>, RegistryError> {
        self.register(name, help, labels, Kind::Counter, |_| Counter::default())
            .map(|family| CounterFamily { family })
    }

    /// Registers a gauge family with these label names.
    pub fn gauge<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> Result<GaugeFamily<N>, RegistryError> {
        self.register(name, help, labels, Kind::Gauge, |_| Gauge::default())
            .map(|family| GaugeFamily { family })
    }

    /// Registers a histogram family with these label names and bucket upper
    /// bounds (finite, strictly increasing; `+Inf` is implied).
    pub fn histogram<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        buckets: &[f64],
    ) -> Result<HistogramFamily<N>, RegistryError> {
        let valid = !buckets.is_empty()
            && buckets.iter().all(|b| b.is_finite())
            && buckets.windows(2).all(|w| w[0] < w[1]);
        if !valid {
            return Err(RegistryError::InvalidBuckets);
        }
        if labels.contains(&"le") {
            return Err(RegistryError::InvalidLabel("le".into()));
        }
        let bounds: Arc<[f64]> = buckets.into();
        self.register(name, help, labels, Kind::Histogram, move |_| {
            Histogram::new(Arc::clone(&bounds))
        })
        .map(|family| HistogramFamily { family })
    }

    fn register<const N: usize, M: Metric>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        kind: Kind,
        make: impl Fn(&[String]) -> M + Send + Sync + 'static,
    ) -> Result<Arc<Family<M>>, RegistryError> {
        if !valid_metric_name(name) {
            return Err(RegistryError::InvalidName(name.into()));
        }
        for (i, label) in labels.iter().enumerate() {
            if !valid_label_name(label) {
                return Err(RegistryError::InvalidLabel((*label).into()));
            }
            if labels[..i].contains(label) {
                return Err(RegistryError::DuplicateLabel((*label).into()));
            }
        }
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if inner.families.iter().any(|f| f.meta().name == name) {
            return Err(RegistryError::Duplicate(name.into()));
        }
        Ok(insert(&mut inner, name, help, &labels, kind, make))
    }

    /// Registers a family whose name, labels and buckets the crate's own
    /// constants fix (valid, as tests show), in a registry known not to hold
    /// it: no error to return.
    pub(crate) fn trusted_counter<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> CounterFamily<N> {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let family = insert(&mut inner, name, help, &labels, Kind::Counter, |_| {
            Counter::default()
        });
        CounterFamily { family }
    }

    /// As [`trusted_counter`](Self::trusted_counter), a gauge.
    pub(crate) fn trusted_gauge<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
    ) -> GaugeFamily<N> {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let family = insert(&mut inner, name, help, &labels, Kind::Gauge, |_| {
            Gauge::default()
        });
        GaugeFamily { family }
    }

    /// As [`trusted_counter`](Self::trusted_counter), a histogram.
    pub(crate) fn trusted_histogram<const N: usize>(
        &self,
        name: &str,
        help: &str,
        labels: [&str; N],
        buckets: &[f64],
    ) -> HistogramFamily<N> {
        let bounds: Arc<[f64]> = buckets.into();
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let family = insert(
            &mut inner,
            name,
            help,
            &labels,
            Kind::Histogram,
            move |_| Histogram::new(Arc::clone(&bounds)),
        );
        HistogramFamily { family }
    }

    /// Every family in the Prometheus text exposition format (version
    /// 0.0.4), in registration order, each family's series sorted by label
    /// values.
    pub fn render(&self) -> String {
        let families: Vec<Arc<dyn Collect>> = self
            .inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .families
            .clone();
        let mut out = String::new();
        for family in families {
            family.collect(&mut out);
        }
        out
    }

    /// The names of the registered families, in registration order.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .families
            .iter()
            .map(|f| f.meta().name.clone())
            .collect()
    }
}

fn insert<M: Metric>(
    inner: &mut Inner,
    name: &str,
    help: &str,
    labels: &[&str],
    kind: Kind,
    make: impl Fn(&[String]) -> M + Send + Sync + 'static,
) -> Arc<Family<M>> {
    let family = Arc::new(Family {
        meta: Meta {
            name: name.into(),
            help: help.into(),
            kind,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        },
        cap: inner.series_cap,
        make: Box::new(make),
        series: RwLock::new(HashMap::new()),
    });
    inner.families.push(Arc::clone(&family) as Arc<dyn Collect>);
    family
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) help: String,
    pub(crate) kind: Kind,
    pub(crate) labels: Vec<String>,
}

/// One series' value, as the renderer reads it.
pub(crate) trait Metric: Send + Sync + 'static {
    fn write(&self, meta: &Meta, labels: &[String], out: &mut String);
}

trait Collect: Send + Sync {
    fn meta(&self) -> &Meta;
    fn collect(&self, out: &mut String);
}

type Series<M> = HashMap<String, (Vec<String>, Arc<M>)>;
type Make<M> = Box<dyn Fn(&[String]) -> M + Send + Sync>;

struct Family<M> {
    meta: Meta,
    cap: usize,
    make: Make<M>,
    /// Keyed by the label values joined with a length prefix each, so no
    /// two label sets share a key.
    series: RwLock<Series<M>>,
}

thread_local! {
    /// The lookup key built without allocating on every call.
    static KEY: RefCell<String> = const { RefCell::new(String::new()) };
}

fn write_key(key: &mut String, values: &[&str]) {
    key.clear();
    for value in values {
        let value = truncate(value);
        // The length as one char (values are cut to 128 bytes, so it is
        // always a valid scalar value) marks where each value ends.
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        key.push(char::from_u32(len).unwrap_or(char::REPLACEMENT_CHARACTER));
        key.push_str(value);
    }
}

/// `value` cut to at most [`MAX_LABEL_VALUE_BYTES`] at a char boundary.
fn truncate(value: &str) -> &str {
    if value.len() <= MAX_LABEL_VALUE_BYTES {
        return value;
    }
    let mut end = MAX_LABEL_VALUE_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
}

impl<M: Metric> Family<M> {
    fn get(&self, values: &[&str]) -> Arc<M> {
        KEY.with(|key| match key.try_borrow_mut() {
            Ok(mut key) => self.get_with_key(&mut key, values),
            // Only reachable if a metric were updated from inside a lookup.
            Err(_) => self.get_with_key(&mut String::new(), values),
        })
    }

    fn get_with_key(&self, key: &mut String, values: &[&str]) -> Arc<M> {
        write_key(key, values);
        if let Some((_, metric)) = self
            .series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key.as_str())
        {
            return Arc::clone(metric);
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, metric)) = series.get(key.as_str()) {
            return Arc::clone(metric);
        }
        let (key, labels) = if series.len() < self.cap {
            let labels: Vec<String> = values.iter().map(|v| truncate(v).to_owned()).collect();
            (key.clone(), labels)
        } else {
            let overflow = vec![OVERFLOW_LABEL; values.len()];
            let mut key = String::new();
            write_key(&mut key, &overflow);
            if let Some((_, metric)) = series.get(&key) {
                return Arc::clone(metric);
            }
            (key, vec![OVERFLOW_LABEL.to_owned(); values.len()])
        };
        let metric = Arc::new((self.make)(&labels));
        series.insert(key, (labels, Arc::clone(&metric)));
        metric
    }
}

impl<M: Metric> Collect for Family<M> {
    fn meta(&self) -> &Meta {
        &self.meta
    }

    fn collect(&self, out: &mut String) {
        text::write_header(&self.meta, out);
        // Rendered under the read lock: updates go on meanwhile, only a
        // new label set waits for the end of the family.
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        let mut rows: Vec<&(Vec<String>, Arc<M>)> = series.values().collect();
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (labels, metric) in rows {
            metric.write(&self.meta, labels, out);
        }
    }
}

/// A value that only goes up (or is reset by a restart).
#[derive(Debug, Default)]
pub struct Counter {
    value: AtomicU64,
}

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n` (wrapping past `u64::MAX`, which no mail server reaches).
    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Metric for Counter {
    fn write(&self, meta: &Meta, labels: &[String], out: &mut String) {
        text::write_sample(&meta.name, "", &meta.labels, labels, None, self.get(), out);
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge {
    value: AtomicI64,
}

impl Gauge {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.add(-1);
    }

    /// Adds `n` (negative to subtract).
    pub fn add(&self, n: i64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// Sets the value.
    pub fn set(&self, n: i64) {
        self.value.store(n, Ordering::Relaxed);
    }

    /// The value now.
    pub fn get(&self) -> i64 {
        self.value.load(Ordering::Relaxed)
    }
}

impl Metric for Gauge {
    fn write(&self, meta: &Meta, labels: &[String], out: &mut String) {
        text::write_sample(&meta.name, "", &meta.labels, labels, None, self.get(), out);
    }
}

/// Observations counted into fixed buckets, with their sum.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    /// One per bound, then the one above every bound (`+Inf`); each counts
    /// its own range, summed up at render time.
    counts: Box<[AtomicU64]>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    fn new(bounds: Arc<[f64]>) -> Histogram {
        let counts = (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram {
            bounds,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }
    }

    /// Counts one observation. NaN is ignored (it would poison the sum).
    pub fn observe(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let slot = self
            .bounds
            .iter()
            .position(|bound| value <= *bound)
            .unwrap_or(self.bounds.len());
        if let Some(count) = self.counts.get(slot) {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Counts a duration, in seconds.
    pub fn observe_duration(&self, duration: Duration) {
        self.observe(duration.as_secs_f64());
    }

    /// How many observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    /// The sum of the observations so far.
    pub fn sum(&self) -> f64 {
        f64::from_bits(self.sum.load(Ordering::Relaxed))
    }
}

impl Metric for Histogram {
    fn write(&self, meta: &Meta, labels: &[String], out: &mut String) {
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = match self.bounds.get(i) {
                Some(bound) => text::float(*bound),
                None => "+Inf".to_owned(),
            };
            text::write_sample(
                &meta.name,
                "_bucket",
                &meta.labels,
                labels,
                Some(&le),
                cumulative,
                out,
            );
        }
        let sum = text::float(self.sum());
        text::write_sample(&meta.name, "_sum", &meta.labels, labels, None, &sum, out);
        // The +Inf bucket read above, so that `_count` equals it within
        // one scrape even while others observe.
        let count = cumulative.to_string();
        text::write_sample(
            &meta.name,
            "_count",
            &meta.labels,
            labels,
            None,
            &count,
            out,
        );
    }
}

macro_rules! family {
    ($(#[$doc:meta])* $name:ident, $metric:ty) => {
        $(#[$doc])*
        pub struct $name<const N: usize> {
            family: Arc<Family<$metric>>,
        }

        impl<const N: usize> Clone for $name<N> {
            fn clone(&self) -> Self {
                $name { family: Arc::clone(&self.family) }
            }
        }

        impl<const N: usize> fmt::Debug for $name<N> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("name", &self.family.meta.name)
                    .field("labels", &self.family.meta.labels)
                    .finish()
            }
        }

        impl<const N: usize> $name<N> {
            /// The series with these label values (in the order the labels
            /// were registered), made on first use; the overflow series
            /// once the family is full.
            pub fn with(&self, values: [&str; N]) -> Arc<$metric> {
                self.family.get(&values)
            }

            /// The metric's name.
            pub fn name(&self) -> &str {
                &self.family.meta.name
            }

            /// How many series the family holds now.
            pub fn series(&self) -> usize {
                self.family
                    .series
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len()
            }
        }
    };
}

family!(
    /// A counter family with `N` labels.
    CounterFamily,
    Counter
);
family!(
    /// A gauge family with `N` labels.
    GaugeFamily,
    Gauge
);
family!(
    /// A histogram family with `N` labels.
    HistogramFamily,
    Histogram
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_names_are_refused() {
        let r = Registry::new();
        assert!(matches!(
            r.counter("1x", "", []),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            r.counter("a-b", "", []),
            Err(RegistryError::InvalidName(_))
        ));
        assert!(matches!(
            r.counter("x", "", ["__a"]),
            Err(RegistryError::InvalidLabel(_))
        ));
        assert!(matches!(
            r.counter("x", "", ["a b"]),
            Err(RegistryError::InvalidLabel(_))
        ));
        assert!(matches!(
            r.counter("x", "", ["a", "a"]),
            Err(RegistryError::DuplicateLabel(_))
        ));
        assert!(matches!(
            r.histogram("h", "", ["le"], &[1.0]),
            Err(RegistryError::InvalidLabel(_))
        ));
        assert_eq!(
            r.histogram("h", "", [], &[2.0, 1.0]).err(),
            Some(RegistryError::InvalidBuckets)
        );
        assert_eq!(
            r.histogram("h", "", [], &[]).err(),
            Some(RegistryError::InvalidBuckets)
        );
        assert_eq!(
            r.histogram("h", "", [], &[f64::NAN]).err(),
            Some(RegistryError::InvalidBuckets)
        );
        r.counter("ok_total", "", ["a"]).unwrap();
        assert_eq!(
            r.gauge("ok_total", "", []).err(),
            Some(RegistryError::Duplicate("ok_total".into()))
        );
        assert_eq!(r.names(), ["ok_total"]);
    }

    #[test]
    fn beyond_the_cap_new_label_sets_share_the_overflow_series() {
        let r = Registry::new().with_series_cap(3);
        let c = r.counter("c_total", "", ["a", "b"]).unwrap();
        for i in 0..10_000 {
            c.with([&i.to_string(), "x"]).inc();
        }
        // Three series kept, one overflow series.
        assert_eq!(c.series(), 4);
        assert_eq!(c.with([OVERFLOW_LABEL, OVERFLOW_LABEL]).get(), 9_997);
        // Known label sets keep counting in their own series.
        c.with(["1", "x"]).inc();
        assert_eq!(c.with(["1", "x"]).get(), 2);
        assert_eq!(c.series(), 4);
    }

    #[test]
    fn long_label_values_are_cut_at_a_char_boundary() {
        let r = Registry::new();
        let c = r.counter("c_total", "", ["a"]).unwrap();
        let long = "é".repeat(200);
        c.with([&long]).inc();
        c.with([&format!("{long}zzz")]).inc();
        let text = r.render();
        let expected = "é".repeat(MAX_LABEL_VALUE_BYTES / 2);
        assert!(
            text.contains(&format!("c_total{{a=\"{expected}\"}} 2\n")),
            "{text}"
        );
    }

    #[test]
    fn keys_of_different_label_sets_differ() {
        let mut a = String::new();
        let mut b = String::new();
        write_key(&mut a, &["1:x", ""]);
        write_key(&mut b, &["1", "x:"]);
        assert_ne!(a, b);
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_count_equals_inf() {
        let r = Registry::new();
        let h = r.histogram("h_seconds", "Time.", [], &[0.1, 1.0]).unwrap();
        for v in [0.05, 0.1, 0.5, 3.0, f64::NAN] {
            h.with([]).observe(v);
        }
        let text = r.render();
        assert!(text.contains("h_seconds_bucket{le=\"0.1\"} 2\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"1\"} 3\n"), "{text}");
        assert!(text.contains("h_seconds_bucket{le=\"+Inf\"} 4\n"), "{text}");
        assert!(text.contains("h_seconds_sum 3.65\n"), "{text}");
        assert!(text.contains("h_seconds_count 4\n"), "{text}");
    }

    #[test]
    fn many_threads_count_every_increment() {
        let r = Registry::new();
        let c = r.counter("c_total", "", ["t"]).unwrap();
        let g = r.gauge("g", "", []).unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let (c, g) = (c.clone(), g.clone());
                s.spawn(move || {
                    for _ in 0..10_000 {
                        c.with([if t % 2 == 0 { "even" } else { "odd" }]).inc();
                        g.with([]).inc();
                        g.with([]).dec();
                    }
                });
            }
        });
        assert_eq!(c.with(["even"]).get() + c.with(["odd"]).get(), 80_000);
        assert_eq!(g.with([]).get(), 0);
    }
}

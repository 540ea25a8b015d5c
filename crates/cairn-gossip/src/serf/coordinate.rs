//! Vivaldi network coordinates (serf's `coordinate` package): each node keeps an 8-dimensional
//! position plus a height; every acked probe carries the peer's coordinate and the measured RTT
//! moves ours. Parameters are serf's defaults.

use std::collections::HashMap;
use std::time::Duration;

use crate::codec::msgpack::{decode, Encoder};
use crate::rng::Rng;

const DIMENSIONS: usize = 8;
const ERROR_MAX: f64 = 1.5;
const CE: f64 = 0.25;
const CC: f64 = 0.25;
const ADJUSTMENT_WINDOW: usize = 20;
const HEIGHT_MIN: f64 = 10.0e-6;
const LATENCY_FILTER: usize = 3;
const GRAVITY_RHO: f64 = 150.0;
const ZERO: f64 = 1.0e-6;

/// Version byte serf puts before the coordinate in ack payloads.
pub const PING_VERSION: u8 = 1;

/// A network coordinate.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordinate {
    /// Euclidean part.
    pub vec: Vec<f64>,
    /// Confidence (lower is better).
    pub error: f64,
    /// Local adjustment.
    pub adjustment: f64,
    /// Height (access-link latency).
    pub height: f64,
}

impl Default for Coordinate {
    fn default() -> Self {
        Coordinate {
            vec: vec![0.0; DIMENSIONS],
            error: ERROR_MAX,
            adjustment: 0.0,
            height: HEIGHT_MIN,
        }
    }
}

impl Coordinate {
    /// Whether every component is finite.
    pub fn is_valid(&self) -> bool {
        self.vec.iter().all(|x| x.is_finite())
            && self.error.is_finite()
            && self.adjustment.is_finite()
            && self.height.is_finite()
    }

    fn raw_distance(&self, o: &Coordinate) -> f64 {
        magnitude(&diff(&self.vec, &o.vec)) + self.height + o.height
    }

    /// Estimated RTT to `o`.
    pub fn distance_to(&self, o: &Coordinate) -> Duration {
        let d = self.raw_distance(o);
        let adjusted = d + self.adjustment + o.adjustment;
        let s = if adjusted > 0.0 { adjusted } else { d };
        Duration::from_secs_f64(s.max(0.0))
    }

    fn apply_force(&self, force: f64, o: &Coordinate, rng: &mut Rng) -> Coordinate {
        let mut ret = self.clone();
        let (unit, mag) = unit_vector_at(&self.vec, &o.vec, rng);
        for (r, u) in ret.vec.iter_mut().zip(&unit) {
            *r += u * force;
        }
        if mag > ZERO {
            ret.height = ((ret.height + o.height) * force / mag + ret.height).max(HEIGHT_MIN);
        }
        ret
    }

    /// Encodes as serf does (msgpack struct with Adjustment, Error, Height, Vec).
    pub fn encode_into(&self, e: &mut Encoder) {
        e.map(4);
        e.str("Adjustment");
        e.f64(self.adjustment);
        e.str("Error");
        e.f64(self.error);
        e.str("Height");
        e.f64(self.height);
        e.str("Vec");
        e.array(self.vec.len());
        for x in &self.vec {
            e.f64(*x);
        }
    }

    /// Decodes serf's msgpack form.
    pub fn decode(buf: &[u8]) -> crate::Result<Self> {
        let v = decode(buf)?;
        let s = v.as_struct("Coordinate")?;
        let vec = s
            .get("Vec")
            .as_array("Vec")?
            .iter()
            .map(|x| x.as_f64("Vec"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Coordinate {
            vec,
            error: s.f64("Error")?,
            adjustment: s.f64("Adjustment")?,
            height: s.f64("Height")?,
        })
    }

    /// The ack payload: version byte + coordinate.
    pub fn to_ack_payload(&self) -> Vec<u8> {
        let mut v = vec![PING_VERSION];
        self.encode_into(&mut Encoder::new(&mut v));
        v
    }
}

fn diff(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

fn magnitude(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

fn unit_vector_at(a: &[f64], b: &[f64], rng: &mut Rng) -> (Vec<f64>, f64) {
    let d = diff(a, b);
    let mag = magnitude(&d);
    if mag > ZERO {
        return (d.iter().map(|x| x / mag).collect(), mag);
    }
    // Same position: push in a random direction.
    let r: Vec<f64> = (0..a.len()).map(|_| rng.f64() - 0.5).collect();
    let m = magnitude(&r);
    if m > ZERO {
        return (r.iter().map(|x| x / m).collect(), 0.0);
    }
    let mut unit = vec![0.0; a.len()];
    if let Some(first) = unit.first_mut() {
        *first = 1.0;
    }
    (unit, 0.0)
}

/// Maintains our coordinate from RTT observations.
#[derive(Debug, Clone)]
pub struct CoordinateClient {
    coord: Coordinate,
    origin: Coordinate,
    adjustment_index: usize,
    adjustment_samples: Vec<f64>,
    latency_samples: HashMap<String, Vec<f64>>,
    rng: Rng,
    /// Times the coordinate had to be reset after going invalid.
    pub resets: u64,
}

impl CoordinateClient {
    /// A client at the origin.
    pub fn new(seed: u64) -> Self {
        CoordinateClient {
            coord: Coordinate::default(),
            origin: Coordinate::default(),
            adjustment_index: 0,
            adjustment_samples: vec![0.0; ADJUSTMENT_WINDOW],
            latency_samples: HashMap::new(),
            rng: Rng::new(seed),
            resets: 0,
        }
    }

    /// Our coordinate.
    pub fn coordinate(&self) -> &Coordinate {
        &self.coord
    }

    /// Forgets a node's latency samples.
    pub fn forget(&mut self, node: &str) {
        self.latency_samples.remove(node);
    }

    /// Feeds an observation of `node` at `other` with round-trip `rtt`.
    pub fn update(&mut self, node: &str, other: &Coordinate, rtt: Duration) -> crate::Result<()> {
        if other.vec.len() != self.coord.vec.len() || !other.is_valid() {
            return Err(crate::Error::State("incompatible or invalid coordinate"));
        }
        if rtt > Duration::from_secs(10) {
            return Err(crate::Error::State("round trip time out of range"));
        }
        let rtt = self.latency_filter(node, rtt.as_secs_f64());
        self.update_vivaldi(other, rtt);
        self.update_adjustment(other, rtt);
        self.update_gravity();
        if !self.coord.is_valid() {
            self.resets += 1;
            self.coord = Coordinate::default();
        }
        Ok(())
    }

    fn latency_filter(&mut self, node: &str, rtt: f64) -> f64 {
        let samples = self.latency_samples.entry(node.to_string()).or_default();
        samples.push(rtt);
        if samples.len() > LATENCY_FILTER {
            samples.remove(0);
        }
        let mut sorted = samples.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        sorted[sorted.len() / 2]
    }

    fn update_vivaldi(&mut self, other: &Coordinate, rtt: f64) {
        let rtt = rtt.max(ZERO);
        let dist = self.coord.distance_to(other).as_secs_f64();
        let wrongness = (dist - rtt).abs() / rtt;
        let total_error = (self.coord.error + other.error).max(ZERO);
        let weight = self.coord.error / total_error;
        self.coord.error =
            (CE * weight * wrongness + self.coord.error * (1.0 - CE * weight)).min(ERROR_MAX);
        let force = CC * weight * (rtt - dist);
        self.coord = self.coord.apply_force(force, other, &mut self.rng);
    }

    fn update_adjustment(&mut self, other: &Coordinate, rtt: f64) {
        let dist = self.coord.raw_distance(other);
        self.adjustment_samples[self.adjustment_index] = rtt - dist;
        self.adjustment_index = (self.adjustment_index + 1) % ADJUSTMENT_WINDOW;
        let sum: f64 = self.adjustment_samples.iter().sum();
        self.coord.adjustment = sum / (2.0 * ADJUSTMENT_WINDOW as f64);
    }

    fn update_gravity(&mut self) {
        let dist = self.origin.distance_to(&self.coord).as_secs_f64();
        let force = -(dist / GRAVITY_RHO).powi(2);
        self.coord = self
            .coord
            .apply_force(force, &self.origin.clone(), &mut self.rng);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_toward_measured_rtt() {
        // Two nodes 10 ms apart exchanging observations.
        let mut a = CoordinateClient::new(1);
        let mut b = CoordinateClient::new(2);
        let rtt = Duration::from_millis(10);
        for _ in 0..200 {
            let cb = b.coordinate().clone();
            a.update("b", &cb, rtt).unwrap();
            let ca = a.coordinate().clone();
            b.update("a", &ca, rtt).unwrap();
        }
        let est = a.coordinate().distance_to(b.coordinate()).as_secs_f64();
        assert!((est - 0.010).abs() < 0.002, "estimate {est}");
        assert!(a.coordinate().error < 0.5);
    }

    #[test]
    fn payload_roundtrip_and_bad_input() {
        let c = Coordinate {
            vec: (0..8).map(|i| i as f64 * 0.001).collect(),
            error: 0.3,
            adjustment: -0.0001,
            height: 0.00002,
        };
        let p = c.to_ack_payload();
        assert_eq!(p[0], PING_VERSION);
        assert_eq!(Coordinate::decode(&p[1..]).unwrap(), c);
        let mut cl = CoordinateClient::new(3);
        let mut short = c.clone();
        short.vec.truncate(3);
        assert!(cl.update("x", &short, Duration::from_millis(1)).is_err());
        let mut nan = c;
        nan.error = f64::NAN;
        assert!(cl.update("x", &nan, Duration::from_millis(1)).is_err());
    }
}

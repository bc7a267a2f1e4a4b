//! The event queue: events ordered by (time, sequence), so that equal times keep insertion order and every run
//! pops events in exactly the same order.
//!
//! The heap holds one `u128` per event, `time << 64 | seq << 24 | slot`, so ordering is a single integer comparison;
//! the events themselves live in a slab, so heap operations never move whole messages. The earliest key may wait
//! outside the heap in `front`: an event scheduled before everything queued (a producer's next workload tick, a
//! reply due before any other event) is then pushed and popped without a sift through the heap. Order is unchanged.

use crate::time::Micros;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Debug)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Reverse<u128>>,
    /// When set, a key smaller than every key in `heap`.
    front: Option<u128>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), front: None, slots: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

/// Slots take the low 24 bits of a key, sequence numbers the 40 above them.
const SLOT_BITS: u32 = 24;
const MAX_SLOTS: usize = 1 << SLOT_BITS;

fn key(time: Micros, seq: u64, slot: u32) -> u128 {
    ((time as u128) << 64) | ((seq as u128) << SLOT_BITS) | slot as u128
}

fn time_of(key: u128) -> Micros {
    (key >> 64) as Micros
}

fn slot_of(key: u128) -> usize {
    (key as usize) & (MAX_SLOTS - 1)
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, time: Micros, event: E) {
        self.seq += 1;
        assert!(self.seq < 1 << 40, "more than 2^40 events queued in one run");
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                assert!(self.slots.len() < MAX_SLOTS, "more than 2^24 events queued at once");
                self.slots.push(Some(event));
                (self.slots.len() - 1) as u32
            }
        };
        let key = key(time, self.seq, slot);
        match self.front {
            Some(front) if key < front => {
                self.heap.push(Reverse(front));
                self.front = Some(key);
            }
            Some(_) => self.heap.push(Reverse(key)),
            None if self.heap.peek().is_none_or(|Reverse(min)| key < *min) => self.front = Some(key),
            None => self.heap.push(Reverse(key)),
        }
    }

    pub fn pop(&mut self) -> Option<(Micros, E)> {
        let key = match self.front.take() {
            Some(front) => front,
            None => self.heap.pop()?.0,
        };
        let slot = slot_of(key);
        let event = self.slots[slot].take().expect("a queued slot holds its event");
        self.free.push(slot as u32);
        Some((time_of(key), event))
    }

    pub fn peek_time(&self) -> Option<Micros> {
        self.front.or_else(|| self.heap.peek().map(|Reverse(key)| *key)).map(time_of)
    }

    pub fn len(&self) -> usize {
        self.heap.len() + usize::from(self.front.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every queued event with its time, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Micros, &E)> {
        let keys = self.front.into_iter().chain(self.heap.iter().map(|Reverse(key)| *key));
        keys.map(|key| (time_of(key), self.slots[slot_of(key)].as_ref().expect("queued")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::{RngCore, SeedableRng};

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut queue = EventQueue::default();
        queue.push(5, "c");
        queue.push(1, "a");
        queue.push(5, "d");
        queue.push(1, "b");
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (1, "b"), (5, "c"), (5, "d")]);
        assert!(queue.is_empty());
    }

    /// Pushes, pops and peeks interleaved at random, against a sorted list of (time, insertion number): the front
    /// slot never changes the order. Offsets are mostly small (equal times are common), sometimes huge.
    #[test]
    fn interleaved_pushes_and_pops_keep_time_then_insertion_order() {
        let mut queue = EventQueue::default();
        let mut reference: Vec<(Micros, u32)> = Vec::new();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut next = |bound: u64| rng.next_u64() % bound;
        let mut now = 0;
        for n in 0..50_000u32 {
            let choice = next(8);
            if choice < 3 && !reference.is_empty() {
                let expected = reference.remove(0);
                assert_eq!(queue.pop(), Some(expected));
                now = expected.0;
            } else if choice == 3 {
                assert_eq!(queue.peek_time(), reference.first().map(|&(t, _)| t));
            } else {
                // Times never go back past the last pop.
                let offset = match next(6) {
                    0 => next(1 << 40),
                    1 => next(100_000),
                    _ => next(8),
                };
                let time = now + offset;
                queue.push(time, n);
                let at = reference.partition_point(|&(t, _)| t <= time);
                reference.insert(at, (time, n));
            }
            assert_eq!(queue.len(), reference.len());
            assert_eq!(queue.peek_time(), reference.first().map(|&(t, _)| t));
        }
        assert_eq!(queue.iter().count(), reference.len());
        let rest: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(rest, reference);
    }
}

//! The relation graph around an entity: which entities are within a few hops, and where to draw them. Pure: the
//! caller supplies the neighbours of each node; the page renders the result as server-side SVG.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use portolan_types::catalog::{GraphEdge, GraphNode, GraphView};

use super::relations::RelationType;

/// The direction each relation is drawn in; the inverse types are the same edges seen from the other end.
pub fn is_forward(t: RelationType) -> bool {
    matches!(
        t,
        RelationType::OwnedBy
            | RelationType::PartOf
            | RelationType::DependsOn
            | RelationType::ProvidesApi
            | RelationType::ConsumesApi
            | RelationType::ChildOf
            | RelationType::MemberOf
    )
}

/// At most this many nodes, so a hub entity still yields a readable picture.
pub const MAX_NODES: usize = 40;

const WIDTH: f64 = 900.0;
const RING: f64 = 170.0;

/// Builds the graph around `center` out to `depth` hops, following only the `allowed` relation types (both
/// directions of each). `neighbours(ref)` lists `(type, target)` pairs leaving a node; `title(ref)` names a node
/// that exists in the catalog (`None`: a dangling reference).
pub fn build(
    center: &str,
    depth: usize,
    allowed: &BTreeSet<RelationType>,
    neighbours: &BTreeMap<String, Vec<(RelationType, String)>>,
    title: &dyn Fn(&str) -> Option<String>,
) -> GraphView {
    let mut distance: BTreeMap<String, usize> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut queue = VecDeque::from([(center.to_owned(), 0usize)]);
    distance.insert(center.to_owned(), 0);
    order.push(center.to_owned());
    let mut edges: BTreeSet<(String, String, RelationType)> = BTreeSet::new();
    while let Some((node, d)) = queue.pop_front() {
        for (t, target) in neighbours.get(&node).map(Vec::as_slice).unwrap_or_default() {
            let forward = if allowed.contains(t) || allowed.contains(&t.inverse()) { Some(*t) } else { None };
            let Some(t) = forward else { continue };
            let known = distance.contains_key(target);
            if !known {
                if d + 1 > depth || order.len() >= MAX_NODES {
                    continue;
                }
                distance.insert(target.clone(), d + 1);
                order.push(target.clone());
                queue.push_back((target.clone(), d + 1));
            }
            let edge = if is_forward(t) {
                (node.clone(), target.clone(), t)
            } else {
                (target.clone(), node.clone(), t.inverse())
            };
            edges.insert(edge);
        }
    }

    // Rings by distance; nodes spread evenly around their ring, starting at the top.
    let height = 160.0 + RING * 2.0 * depth as f64;
    let (cx, cy) = (WIDTH / 2.0, height / 2.0);
    // Ring radii that keep every 150-wide, 40-high node box inside the drawing.
    let (rx, ry) = ((WIDTH / 2.0 - 80.0) / depth as f64, (height / 2.0 - 30.0) / depth as f64);
    let mut rings: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for n in &order {
        rings.entry(distance[n]).or_default().push(n);
    }
    let mut nodes = Vec::with_capacity(order.len());
    for (ring, members) in &rings {
        let count = members.len().max(1) as f64;
        for (i, n) in members.iter().enumerate() {
            let (x, y) = if *ring == 0 {
                (cx, cy)
            } else {
                let angle = -std::f64::consts::FRAC_PI_2 + std::f64::consts::TAU * (i as f64) / count;
                let k = *ring as f64;
                (cx + rx * k * angle.cos(), cy + ry * k * angle.sin())
            };
            nodes.push(GraphNode {
                entity_ref: (*n).clone(),
                title: title(n),
                x: x.round() as i32,
                y: y.round() as i32,
                center: *ring == 0,
            });
        }
    }
    GraphView {
        width: WIDTH as i32,
        height: height.round() as i32,
        nodes,
        edges: edges
            .into_iter()
            .map(|(from, to, t)| GraphEdge { from, to, relation_type: t.as_str().to_owned() })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> BTreeMap<String, Vec<(RelationType, String)>> {
        let mut g: BTreeMap<String, Vec<(RelationType, String)>> = BTreeMap::new();
        let mut add = |a: &str, t: RelationType, b: &str| {
            g.entry(a.to_owned()).or_default().push((t, b.to_owned()));
            g.entry(b.to_owned()).or_default().push((t.inverse(), a.to_owned()));
        };
        add("component:default/api", RelationType::OwnedBy, "group:default/team");
        add("component:default/api", RelationType::DependsOn, "resource:default/db");
        add("group:default/team", RelationType::ChildOf, "group:default/dept");
        g
    }

    fn title(r: &str) -> Option<String> {
        (r != "resource:default/db").then(|| r.rsplit('/').next().unwrap_or(r).to_owned())
    }

    #[test]
    fn depth_limits_the_neighbourhood_and_edges_are_drawn_once_forward() {
        let all: BTreeSet<RelationType> = RelationType::ALL.into_iter().collect();
        let one = build("component:default/api", 1, &all, &graph(), &title);
        assert_eq!(one.nodes.len(), 3);
        assert_eq!(one.edges.len(), 2);
        assert!(one.edges.iter().any(|e| e.from == "component:default/api"
            && e.to == "group:default/team"
            && e.relation_type == "ownedBy"));
        assert!(one.nodes.iter().any(|n| n.entity_ref == "resource:default/db" && n.title.is_none()), "dangling");
        let two = build("component:default/api", 2, &all, &graph(), &title);
        assert_eq!(two.nodes.len(), 4);
        assert!(two.edges.iter().any(|e| e.from == "group:default/team" && e.relation_type == "childOf"));
        assert!(two.nodes.iter().all(|n| n.x >= 75 && n.y >= 20 && n.x <= two.width - 75 && n.y <= two.height - 20));
    }

    #[test]
    fn relation_filters_keep_only_the_chosen_types() {
        let owned: BTreeSet<RelationType> = [RelationType::OwnedBy].into_iter().collect();
        let g = build("component:default/api", 2, &owned, &graph(), &title);
        assert_eq!(g.nodes.len(), 2);
        assert_eq!(g.edges.len(), 1);
        // The filter accepts either direction's name.
        let owner_of: BTreeSet<RelationType> = [RelationType::OwnerOf].into_iter().collect();
        assert_eq!(build("component:default/api", 1, &owner_of, &graph(), &title).edges.len(), 1);
    }
}

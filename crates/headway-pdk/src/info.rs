//! What a plugin declares about itself.

use crate::wit;

/// A plugin's self-description: name, version, bands, factors and milestones.
///
/// Bands are declared from the lowest up; each starts at its `min_score`. Factor
/// weights are the share of the 100 points each factor can give and must sum to 1.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) bands: Vec<(String, f64)>,
    pub(crate) factors: Vec<(String, String, f64)>,
    pub(crate) milestones: Vec<Milestone>,
    reads: Option<Vec<String>>,
}

impl PluginInfo {
    /// A plugin called `name` at `version` (use `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: &str, version: &str) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            bands: Vec::new(),
            factors: Vec::new(),
            milestones: Vec::new(),
            reads: None,
        }
    }

    /// Adds a band starting at `min_score`; declare from the lowest (0) up.
    pub fn band(mut self, name: &str, min_score: f64) -> Self {
        self.bands.push((name.to_owned(), min_score));
        self
    }

    /// Adds a factor with its id, human label and weight (share of 100 points).
    pub fn factor(mut self, id: &str, label: &str, weight: f64) -> Self {
        self.factors.push((id.to_owned(), label.to_owned(), weight));
        self
    }

    /// Adds the next milestone on the customer's path.
    pub fn milestone(mut self, milestone: Milestone) -> Self {
        self.milestones.push(milestone);
        self
    }

    /// Declares the inputs the rules read: names of measures, histories, outcomes
    /// and attributes. The host then sends only those columns, which makes every
    /// batch smaller and faster. Anything not listed reads as missing, so list
    /// every name [`Account`](crate::Account) is asked for. Without this call the
    /// plugin gets every column.
    pub fn reads(mut self, names: &[&str]) -> Self {
        self.reads
            .get_or_insert_with(Vec::new)
            .extend(names.iter().map(|n| (*n).to_owned()));
        self
    }

    pub(crate) fn into_wit(self) -> wit::PluginInfo {
        wit::PluginInfo {
            name: self.name,
            version: self.version,
            bands: self
                .bands
                .into_iter()
                .map(|(name, min_score)| wit::BandInfo { name, min_score })
                .collect(),
            factors: self
                .factors
                .into_iter()
                .map(|(id, label, weight)| wit::FactorInfo { id, label, weight })
                .collect(),
            milestones: self
                .milestones
                .into_iter()
                .map(|m| wit::MilestoneInfo {
                    id: m.id,
                    name: m.name,
                    description: m.description,
                    upsell: m.upsell,
                })
                .collect(),
            reads: self.reads,
        }
    }
}

/// A Success Milestone: a step on the customer's path to their desired outcome.
#[derive(Debug, Clone)]
pub struct Milestone {
    pub(crate) id: String,
    name: String,
    description: String,
    upsell: Option<wit::Upsell>,
}

impl Milestone {
    /// A milestone with a stable id and a human name.
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            description: String::new(),
            upsell: None,
        }
    }

    /// What reaching it means for the customer.
    pub fn description(mut self, text: &str) -> Self {
        self.description = text.to_owned();
        self
    }

    /// The logical upsell it unlocks: the offer, the ARR it adds per account, and the
    /// share of accounts (0-1) expected to take it.
    pub fn upsell(mut self, offer: &str, arr: f64, take_rate: f64) -> Self {
        self.upsell = Some(wit::Upsell {
            offer: offer.to_owned(),
            arr,
            take_rate,
        });
        self
    }
}

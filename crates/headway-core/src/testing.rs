//! Builders the unit tests share.

use crate::{BandInfo, FactorInfo, PluginInfo};

/// A plugin `p` 1 with these bands (name, floor) and factors (id, weight),
/// each factor labelled by its id.
pub(crate) fn plugin_info(bands: &[(&str, f64)], factors: &[(&str, f64)]) -> PluginInfo {
    PluginInfo {
        name: "p".into(),
        version: "1".into(),
        bands: bands
            .iter()
            .map(|(name, min_score)| BandInfo {
                name: (*name).into(),
                min_score: *min_score,
            })
            .collect(),
        factors: factors
            .iter()
            .map(|(id, weight)| FactorInfo {
                id: (*id).into(),
                label: (*id).into(),
                weight: *weight,
            })
            .collect(),
        ..PluginInfo::default()
    }
}

//! Survey answers (NPS, CSAT, CES).

use serde::{Deserialize, Serialize};

use crate::Date;

/// A survey answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SurveyResponse {
    /// The account.
    pub account_id: String,
    /// The day answered.
    pub date: Date,
    /// Which survey.
    pub kind: SurveyKind,
    /// The answer.
    pub score: f64,
}

/// The three standard surveys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SurveyKind {
    /// Net Promoter Score, 0-10.
    Nps,
    /// Customer satisfaction, 1-5.
    Csat,
    /// Customer effort, 1-7.
    Ces,
}

impl SurveyKind {
    /// `nps`, `csat` or `ces`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Nps => "nps",
            Self::Csat => "csat",
            Self::Ces => "ces",
        }
    }

    /// The survey named by [`SurveyKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Nps, Self::Csat, Self::Ces]
            .into_iter()
            .find(|k| k.as_str() == name)
    }

    pub(super) fn range(self) -> (f64, f64) {
        match self {
            Self::Nps => (0.0, 10.0),
            Self::Csat => (1.0, 5.0),
            Self::Ces => (1.0, 7.0),
        }
    }
}

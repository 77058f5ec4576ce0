//! Advocacy: customers who refer others, take reference calls, appear in case
//! studies or write reviews.

use serde::{Deserialize, Serialize};

use crate::Date;

/// One act of advocacy by an account.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvocacyEvent {
    /// The advocating account.
    pub account_id: String,
    /// The day it happened.
    pub date: Date,
    /// What it was.
    pub kind: AdvocacyKind,
    /// For a referral, the account referred, when known: its new ARR then
    /// counts as referred revenue.
    pub referred: Option<String>,
}

/// The kinds of advocacy counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdvocacyKind {
    /// Brought in a prospect.
    Referral,
    /// Spoke to a prospect for the vendor.
    ReferenceCall,
    /// Took part in a published case study.
    CaseStudy,
    /// Wrote a public review.
    Review,
}

impl AdvocacyKind {
    /// `referral`, `reference-call`, `case-study` or `review`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Referral => "referral",
            Self::ReferenceCall => "reference-call",
            Self::CaseStudy => "case-study",
            Self::Review => "review",
        }
    }

    /// The kind named by [`AdvocacyKind::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Referral,
            Self::ReferenceCall,
            Self::CaseStudy,
            Self::Review,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

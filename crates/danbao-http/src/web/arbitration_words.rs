//! The words of the arbitration desk (`/arbitration`) in zh-CN and English: `of(nav.lang())`.
#![allow(dead_code)] // until the console's pages read from it

super::i18n::catalog! {
    queue: "待裁决队列", "Cases to rule on";
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_has_both_languages() {
        super::super::i18n::assert_catalog_complete(&super::all_entries());
    }
}

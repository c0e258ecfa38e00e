//! The words of the seller back office (`/seller`) in zh-CN and English: `of(nav.lang())`.
#![allow(dead_code)] // until the console's pages read from it

super::i18n::catalog! {
    overview: "概览", "Overview";
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_word_has_both_languages() {
        super::super::i18n::assert_catalog_complete(&super::all_entries());
    }
}

"""What a query was read as: "Showing results for star wars" when the best title needed typos fixed, or
did without a word that matched nothing."""

from __future__ import annotations


def corrected_query(title_words: dict[str, str], terms: list[str],
                    typos_by_term: dict[str, dict[str, int]]) -> str | None:
    """The terms as the best hit matched them: a term found whole or as a prefix stays as typed, a term
    found by typo becomes the closest title word (as the title spells it, lower-cased: 'война', not the
    folded 'воина'), a term the title lacks is left out. `title_words` maps the title's folded words to
    that spelling. None when that is the query itself (nothing was corrected)."""
    read = []
    for term in terms:
        if term in title_words or any(word.startswith(term) for word in title_words):
            read.append(term)
            continue
        close = sorted((distance, word) for word, distance in typos_by_term.get(term, {}).items()
                       if word in title_words)
        if close:
            read.append(title_words[close[0][1]])
    if read == terms or not read:
        return None
    return " ".join(read)

package search

// GroupByDocument is the one grouping: at most one hit per document.
const GroupByDocument = "document"

// byDocument keeps each document's best hit (hits are best first), in order, and counts in
// MoreChunks how many of the document's other chunks are among the hits.
func byDocument(hits []Hit) []Hit {
	first := make(map[string]int, len(hits))
	var best []Hit
	for _, hit := range hits {
		if i, seen := first[hit.DocumentID]; seen {
			*best[i].MoreChunks++
			continue
		}
		first[hit.DocumentID] = len(best)
		hit.MoreChunks = new(int)
		best = append(best, hit)
	}
	return best
}

// window is hits[offset:offset+limit], or what there is of it.
func window(hits []Hit, page Page) []Hit {
	if page.Offset >= len(hits) {
		return nil
	}
	return hits[page.Offset:min(len(hits), page.Offset+page.Limit)]
}

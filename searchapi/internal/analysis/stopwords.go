package analysis

// englishStopWords is Snowball's English stop word list, every word of it
// (174): snowballstem/snowball-website, algorithms/english/stop.txt (as of
// commit ce80856, 2025-03-04), also served at
// https://snowballstem.org/algorithms/english/stop.txt. Its commented-out words
// (us, will, can, may, might, must, shall, ...) are left out, as it advises.
// The same list as shared/sluice/analysis.py's ENGLISH_STOP_WORDS.
var englishStopWords = set(
	"i", "me", "my", "myself", "we", "our", "ours", "ourselves", "you", "your",
	"yours", "yourself", "yourselves", "he", "him", "his", "himself", "she",
	"her", "hers", "herself", "it", "its", "itself", "they", "them", "their",
	"theirs", "themselves", "what", "which", "who", "whom", "this", "that",
	"these", "those", "am", "is", "are", "was", "were", "be", "been", "being",
	"have", "has", "had", "having", "do", "does", "did", "doing", "would",
	"should", "could", "ought", "i'm", "you're", "he's", "she's", "it's", "we're",
	"they're", "i've", "you've", "we've", "they've", "i'd", "you'd", "he'd",
	"she'd", "we'd", "they'd", "i'll", "you'll", "he'll", "she'll", "we'll",
	"they'll", "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't",
	"hadn't", "doesn't", "don't", "didn't", "won't", "wouldn't", "shan't",
	"shouldn't", "can't", "cannot", "couldn't", "mustn't", "let's", "that's",
	"who's", "what's", "here's", "there's", "when's", "where's", "why's", "how's",
	"a", "an", "the", "and", "but", "if", "or", "because", "as", "until", "while",
	"of", "at", "by", "for", "with", "about", "against", "between", "into",
	"through", "during", "before", "after", "above", "below", "to", "from", "up",
	"down", "in", "out", "on", "off", "over", "under", "again", "further", "then",
	"once", "here", "there", "when", "where", "why", "how", "all", "any", "both",
	"each", "few", "more", "most", "other", "some", "such", "no", "nor", "not",
	"only", "own", "same", "so", "than", "too", "very",
)

// clitics are what follows an apostrophe in a contraction or possessive: a
// stop word there ("could've", "parkinson's", "ain't"), a term anywhere else.
var clitics = set("s", "t", "d", "m", "ll", "re", "ve")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

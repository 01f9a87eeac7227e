// The knowledge world: fictional people, cities, rivers and inventions with attributes, split
// three ways (DESIGN.md §5):
//   corpus        facts written into the pretraining corpus (answerable from memory)
//   search        facts only in the document store (answerable with the search tool)
//   unanswerable  entities that appear nowhere; the right answer is a refusal
// The whole world is a function of `worldSeed`; task sampling never changes it.
import PonderCore

public struct KnowledgeEntity: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case person, city, river, invention }
    public enum Partition: String, Sendable { case corpus, search, unanswerable }

    public var kind: Kind
    public var name: String
    public var partition: Partition
    /// Attribute name -> value, e.g. "birth_year" -> "1834", "country" -> "Dravonia".
    public var attributes: [String: String]
    /// Attribute names in a fixed order (dictionary order is not stable).
    public var attributeOrder: [String]
}

public struct KnowledgeWorld: Sendable {
    public let entities: [KnowledgeEntity]
    public let countries: [String]

    static let professions = ["painter", "engineer", "poet", "astronomer", "merchant", "physician", "composer",
                              "cartographer", "sculptor", "botanist", "architect", "chemist"]

    init(seed: UInt64, perKind: Int, searchShare: Double, unanswerableShare: Double) {
        var rng = RNG(seed: seed)
        var used = Set<String>()
        func freshName(_ syllables: ClosedRange<Int>) -> String {
            while true {
                let n = Words.name(&rng, syllables: rng.nextInt(in: syllables))
                if n.count >= 4, used.insert(n.lowercased()).inserted { return n }
            }
        }
        countries = (0..<8).map { _ in freshName(2...3) + ["ia", "and", "or", "ea"][rng.nextInt(below: 4)] }
        var entities: [KnowledgeEntity] = []
        for kind in KnowledgeEntity.Kind.allCases {
            for i in 0..<perKind {
                let share = Double(i) / Double(perKind)
                let partition: KnowledgeEntity.Partition = share < unanswerableShare ? .unanswerable
                    : share < unanswerableShare + searchShare ? .search : .corpus
                let country = countries[rng.nextInt(below: countries.count)]
                var attributes: [String: String]
                let name: String
                switch kind {
                case .person:
                    name = freshName(2...3) + " " + freshName(2...3)
                    attributes = ["birth_year": String(rng.nextInt(in: 1700...1990)), "country": country,
                                  "profession": Self.professions[rng.nextInt(below: Self.professions.count)]]
                case .city:
                    name = freshName(2...3)
                    attributes = ["country": country, "founded": String(rng.nextInt(in: 800...1900)),
                                  "founder": freshName(2...2) + " " + freshName(2...3)]
                case .river:
                    name = freshName(2...3)
                    attributes = ["length_km": String(rng.nextInt(in: 40...4000)), "country": country]
                case .invention:
                    name = freshName(2...3).lowercased() + ["scope", "meter", "graph", "wheel", "loom", "press"][rng.nextInt(below: 6)]
                    attributes = ["inventor": freshName(2...2) + " " + freshName(2...3), "year": String(rng.nextInt(in: 1500...1980))]
                }
                entities.append(KnowledgeEntity(kind: kind, name: name, partition: partition, attributes: attributes,
                                                attributeOrder: attributes.keys.sorted()))
            }
        }
        self.entities = entities
    }

    /// The question for one attribute, and the subject phrase the passage uses.
    static func question(_ e: KnowledgeEntity, _ attribute: String) -> String {
        switch (e.kind, attribute) {
        case (.person, "birth_year"): "In what year was \(e.name) born?"
        case (.person, "country"): "In which country was \(e.name) born?"
        case (.person, _): "What was the profession of \(e.name)?"
        case (.city, "country"): "In which country is the city of \(e.name)?"
        case (.city, "founded"): "In what year was the city of \(e.name) founded?"
        case (.city, _): "Who founded the city of \(e.name)?"
        case (.river, "length_km"): "How long is the \(e.name) River, in kilometres?"
        case (.river, _): "Through which country does the \(e.name) River flow?"
        case (.invention, "inventor"): "Who invented the \(e.name)?"
        default: "In what year was the \(e.name) invented?"
        }
    }

    /// The fact as one sentence, in template variant `v` (the corpus varies its wording).
    static func sentence(_ e: KnowledgeEntity, _ attribute: String, variant v: Int) -> String {
        let a = e.attributes[attribute] ?? ""
        switch (e.kind, attribute) {
        case (.person, "birth_year"): return ["\(e.name) was born in \(a).", "Born in \(a), \(e.name) lived a long life.", "The year of \(e.name)'s birth was \(a)."][v % 3]
        case (.person, "country"): return ["\(e.name) was born in \(a).", "\(e.name) came from \(a).", "\(a) was the birthplace of \(e.name)."][v % 3]
        case (.person, _): return ["\(e.name) worked as a \(a).", "By profession \(e.name) was a \(a).", "\(e.name) was a well-known \(a)."][v % 3]
        case (.city, "country"): return ["\(e.name) is a city in \(a).", "The city of \(e.name) lies in \(a).", "In \(a) there is a city called \(e.name)."][v % 3]
        case (.city, "founded"): return ["\(e.name) was founded in \(a).", "The city of \(e.name) dates from \(a).", "In \(a) the city of \(e.name) was founded."][v % 3]
        case (.city, _): return ["\(e.name) was founded by \(a).", "\(a) founded the city of \(e.name).", "The founder of \(e.name) was \(a)."][v % 3]
        case (.river, "length_km"): return ["The \(e.name) River is \(a) kilometres long.", "The \(e.name) River runs for \(a) kilometres.", "At \(a) kilometres, the \(e.name) River is long."][v % 3]
        case (.river, _): return ["The \(e.name) River flows through \(a).", "The \(e.name) River crosses \(a).", "\(a) is the country of the \(e.name) River."][v % 3]
        case (.invention, "inventor"): return ["The \(e.name) was invented by \(a).", "\(a) invented the \(e.name).", "The inventor of the \(e.name) was \(a)."][v % 3]
        default: return ["The \(e.name) was invented in \(a).", "The \(e.name) dates from \(a).", "In \(a) the \(e.name) was invented."][v % 3]
        }
    }

    /// The document-store passage about an entity (all its facts, plain wording).
    static func passage(_ e: KnowledgeEntity) -> String {
        e.attributeOrder.map { sentence(e, $0, variant: 0) }.joined(separator: " ")
    }

    /// Entities the search tool can find: corpus and search partitions.
    public var searchable: [KnowledgeEntity] { entities.filter { $0.partition != .unanswerable } }

    /// The best passage for a query: the entity sharing the most name words with it; nil if none.
    /// "Velmora River length" -> "The Velmora River is 812 kilometres long. The Velmora River ..."
    public func search(_ query: String) -> String? {
        let words = Set(Answers.normalized(query).split(separator: " ").map(String.init))
        var best: (score: Int, entity: KnowledgeEntity)?
        for e in searchable {
            let nameWords = Answers.normalized(e.name).split(separator: " ").map(String.init)
            let score = nameWords.filter(words.contains).count
            guard score > 0, score == nameWords.count || score >= 2 else { continue }
            if score > (best?.score ?? 0) { best = (score, e) }
        }
        return best.map { Self.passage($0.entity) }
    }
}

// The knowledge world: fictional people, cities, rivers and inventions with attributes, split
// three ways (DESIGN.md §5):
//   corpus        facts written into the pretraining corpus (answerable from memory)
//   search        facts only in the document store (answerable with the search tool)
//   unanswerable  entities that appear nowhere; the right answer is a refusal
// The whole world is a function of `worldSeed`; task sampling never changes it.
//
// Exposure control (`Exposure`): each fact of a corpus entity is given the number of times it is
// written into the pretraining corpus, 0, 1, 2-4 or 5 or more, in configured shares, drawn from
// the world seed. The corpus is then a fixed text in which every fact occurs exactly that many
// times (in varied wording), so what a model could have learned is known fact by fact.
import PonderCore

/// How often corpus facts are written into the pretraining corpus: shares of facts per bucket.
public struct Exposure: Codable, Sendable, Equatable {
    /// Shares of facts seen 0 times, once, 2-4 times, 5-8 times; they must sum to 1.
    public var never: Double
    public var once: Double
    public var few: Double
    public var many: Double

    public init(never: Double = 0.1, once: Double = 0.3, few: Double = 0.3, many: Double = 0.3) {
        self.never = never
        self.once = once
        self.few = few
        self.many = many
    }

    enum CodingKeys: String, CodingKey { case never, once, few, many }

    /// A bucket left out of the file has share 0.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        never = try c.decodeIfPresent(Double.self, forKey: .never) ?? 0
        once = try c.decodeIfPresent(Double.self, forKey: .once) ?? 0
        few = try c.decodeIfPresent(Double.self, forKey: .few) ?? 0
        many = try c.decodeIfPresent(Double.self, forKey: .many) ?? 0
    }

    public func validate() throws {
        for (name, share) in [("never", never), ("once", once), ("few", few), ("many", many)] {
            try ConfigError.check("knowledge.exposure.\(name)", share, in: 0...1)
        }
        guard abs(never + once + few + many - 1) < 1e-9 else {
            throw ConfigError(knob: "knowledge.exposure", allowed: "shares never + once + few + many that sum to 1",
                              found: "they sum to \(never + once + few + many)")
        }
    }

    /// The bucket label of an occurrence count: "0", "1", "2-4" or "5+".
    public static func bucket(_ count: Int) -> String {
        count == 0 ? "0" : count == 1 ? "1" : count <= 4 ? "2-4" : "5+"
    }

    /// The occurrence count of one fact, from a uniform draw for the bucket and one for the count.
    func count(_ u: Double, _ v: UInt64) -> Int {
        if u < never { return 0 }
        if u < never + once { return 1 }
        if u < never + once + few { return 2 + Int(v % 3) }
        return 5 + Int(v % 4)
    }
}

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
    /// With exposure control: occurrences in the corpus of each corpus fact, by `"entity|attribute"`.
    public let exposure: [String: Int]?

    static let professions = ["painter", "engineer", "poet", "astronomer", "merchant", "physician", "composer",
                              "cartographer", "sculptor", "botanist", "architect", "chemist"]

    init(seed: UInt64, perKind: Int, searchShare: Double, unanswerableShare: Double, exposure: Exposure? = nil) {
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
        if let exposure {
            // Drawn from its own stream, so the entities do not depend on whether exposure is controlled.
            var draw = RNG(seed: seed).fork("exposure")
            var counts: [String: Int] = [:]
            for e in entities where e.partition == .corpus {
                for attribute in e.attributeOrder {
                    counts[e.name + "|" + attribute] = exposure.count(draw.nextDouble(), draw.next())
                }
            }
            self.exposure = counts
        } else {
            self.exposure = nil
        }
    }

    /// The exposure-controlled corpus: one short biography per document. An entity whose facts
    /// are written at most m times gets m documents; its j-th holds, in wording variant j mod 3
    /// and in shuffled order, every fact written more than j times, so every corpus fact occurs
    /// exactly its count of times. The documents are then shuffled. (Facts about one entity side
    /// by side, as in a biography, let a small model tie them to the name: with the same
    /// sentences scattered four to a document, the tiny recipe with `corpus_questions: 0.5` and
    /// 1200 pretraining steps answered 10.7% [5.0, 21.5] of answerable validation questions;
    /// as biographies, 19.6% [11.3, 31.8]; seed 0, one run each.) Nil without exposure control.
    public func exposureCorpus(seed: UInt64) -> [String]? {
        guard let exposure else { return nil }
        var rng = RNG(seed: seed).fork("exposure-corpus")
        var documents: [String] = []
        for e in entities where e.partition == .corpus {
            let counts = e.attributeOrder.map { exposure[e.name + "|" + $0] ?? 0 }
            for j in 0..<(counts.max() ?? 0) {
                var sentences = zip(e.attributeOrder, counts).filter { $0.1 > j }.map { Self.sentence(e, $0.0, variant: j) }
                for i in stride(from: sentences.count - 1, to: 0, by: -1) { sentences.swapAt(i, rng.nextInt(below: i + 1)) }
                documents.append(sentences.joined(separator: " "))
            }
        }
        for i in stride(from: documents.count - 1, to: 0, by: -1) { documents.swapAt(i, rng.nextInt(below: i + 1)) }
        return documents
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

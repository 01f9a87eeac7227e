"""Write the hand-written evaluation sets: arithmetic-handwritten.jsonl and counting-handwritten.jsonl.

    python3 experiments/data/handwritten.py

The wordings, words and sentences below were written by hand for these files and are none of
the environments' phrasings (environments/Arithmetic.swift, Counting.swift); operands and which
word goes with which wording are drawn with a fixed seed. The files are test sets only: no
experiment trains on them. Every line names the question's environment key (`key`: the expression
as the arithmetic environment writes it, "letter|word|l" or "words|sentence|" for counting); an
arithmetic or letter key is kept only when it lies in the test split under the default split
shares, so training never saw the same computation in another wording, and the sentences are
written here, not drawn from the prose counting tasks use (Tests/ExperimentsTests/
DisjointnessTests.swift checks both). No prompt appears twice. Each line keeps its wording's index (`wording`) for breakdowns
(`ponder eval CHECKPOINT --data FILE --by wording`).
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

# (wording, the expression it asks, as the arithmetic environment writes it)
ARITHMETIC = [
    ("Add {a} and {b}.", "{a} + {b}"),
    ("What's {a} take away {b}?", "{a} - {b}"),
    ("Multiply {a} by {b}. What do you get?", "{a} * {b}"),
    ("If I have {a} marbles and get {b} more, how many marbles do I have?", "{a} + {b}"),
    ("{a} plus {b} makes how many?", "{a} + {b}"),
    ("Subtract {b} from {a}.", "{a} - {b}"),
    ("What is the product of {a} and {b}?", "{a} * {b}"),
    ("What is the sum of {a}, {b} and {c}?", "{a} + {b} + {c}"),
    ("Give me the difference {a} minus {b}.", "{a} - {b}"),
    ("Can you tell me what {a} times {b} is?", "{a} * {b}"),
    ("{a} + {b} - {c} comes to what?", "{a} + {b} - {c}"),
    ("A shop sold {a} apples in the morning and {b} in the afternoon. How many apples did it sell?", "{a} + {b}"),
    ("Work this out for me: {a} - {b} * {c}", "{a} - {b} * {c}"),
    ("How much is {a} divided by {b}, rounded down to a whole number?", "{a} // {b}"),
    ("Double {a}, then add {b}. What's the result?", "2 * {a} + {b}"),
]


def unit_hash(key):
    """SplitShares.unitHash (Sources/PonderCore/Split.swift): FNV-1a, a SplitMix64 finaliser."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for b in key.encode():
        h = ((h ^ b) * 0x100000001B3) & mask
    h ^= h >> 30; h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27; h = (h * 0x94D049BB133111EB) & mask
    h ^= h >> 31
    return (h >> 11) / 9007199254740992.0


def in_test_split(key):
    return unit_hash(key) >= 0.9  # default shares: train 0.8, validation 0.1, test 0.1

WORDS = ["banana", "Mississippi", "strawberry", "committee", "bookkeeper", "Tennessee", "balloon", "coffee",
         "letter", "parallel", "Alabama", "pepper", "success", "assessment", "remember", "cinnamon", "giraffe",
         "referee", "Barcelona", "hippopotamus", "umbrella", "necessary", "occasion", "kangaroo", "Philippines",
         "accommodate", "lollipop", "raccoon", "tomorrow", "Cincinnati", "possession", "seventeen", "popcorn",
         "address", "butterfly", "Massachusetts", "mammal", "excellent", "vacuum", "pineapple"]
SENTENCES = [
    "The train was late again this morning.",
    "Please leave the keys on the kitchen table.",
    "We planted tomatoes and beans in the spring.",
    "My sister reads two books every week.",
    "It rained all day, so we stayed inside and played cards.",
    "Nobody knew where the old map had gone.",
    "Dinner is ready.",
    "The museum opens at nine and closes at five on Sundays.",
    "He fixed the bicycle with a borrowed wrench.",
    "Turn left after the bridge.",
    "Our neighbours painted their fence bright yellow last summer.",
    "Quiet please.",
    "The children built a snowman in the park near the library.",
    "She forgot her umbrella at the station.",
    "Fresh bread smells wonderful early in the morning, especially in winter.",
]
LETTER = [
    "Spell out {W} and tell me how many {L}'s it has.",
    "How often is the letter {L} used in '{W}'?",
    "What is the count of '{L}' in the word {W}?",
    "In {W}, count every {L}.",
    "How many letters '{L}' can be found in \"{W}\", ignoring case?",
    "Does '{W}' contain the letter {L}? How many times?",
]
SENTENCE = [
    "How many words does the phrase \"{S}\" contain?",
    "Tell me the word count for: {S}",
    "Please count the words in the following sentence. {S}",
    "I wrote \"{S}\" How many words is that?",
]


def main():
    rng = random.Random(20261202)
    lines, prompts = [], set()
    while len(lines) < 105:
        k = len(lines) % len(ARITHMETIC)
        wording, expression = ARITHMETIC[k]
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 9)
        if k in (1, 5, 8) and len(lines) % 2 == 0:  # some differences positive, some negative
            a, b = min(a, b), max(a, b)
        if k in (2, 6, 9):
            b = rng.randint(2, 12)
        key, prompt = expression.format(a=a, b=b, c=c), wording.format(a=a, b=b, c=c)
        if not in_test_split(key) or prompt in prompts:
            continue
        prompts.add(prompt)
        lines.append({"prompt": prompt, "answer": str(eval(key)), "verifier": "number",
                      "wording": k, "key": key, "source": "handwritten"})
    write("arithmetic-handwritten.jsonl", lines)

    lines, prompts = [], set()
    while len(lines) < 104:
        i = len(lines)
        if i % 2 == 0:
            k = (i // 2) % len(LETTER)
            word = WORDS[rng.randrange(len(WORDS))]
            letters = sorted(set(word.lower()))
            letter = letters[rng.randrange(len(letters))] if rng.randrange(6) else "z"  # now and then a letter it lacks
            key, prompt = f"letter|{word}|{letter}", LETTER[k].format(W=word, L=letter)
            if not in_test_split(key) or prompt in prompts:
                continue
            prompts.add(prompt)
            lines.append({"prompt": prompt, "answer": str(word.lower().count(letter)),
                          "verifier": "number", "wording": f"letter-{k}", "key": key, "source": "handwritten"})
        else:
            k = (i // 2) % len(SENTENCE)
            sentence = SENTENCES[rng.randrange(len(SENTENCES))]
            key, prompt = f"words|{sentence}|", SENTENCE[k].format(S=sentence)
            if prompt in prompts:
                continue
            prompts.add(prompt)
            lines.append({"prompt": prompt, "answer": str(len(sentence.split())), "verifier": "number",
                          "wording": f"words-{k}", "key": key, "source": "handwritten"})
    write("counting-handwritten.jsonl", lines)


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    print(f"{name}: {len(lines)} lines")


if __name__ == "__main__":
    main()

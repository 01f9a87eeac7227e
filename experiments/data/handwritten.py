"""Write the hand-written evaluation sets: arithmetic-handwritten.jsonl and counting-handwritten.jsonl.

    python3 experiments/data/handwritten.py

The wordings, words and sentences below were written by hand for these files and are none of
the environments' phrasings (environments/Arithmetic.swift, Counting.swift); operands and which
word goes with which wording are drawn with a fixed seed. The files are test sets only: no
experiment trains on them. Each line keeps its wording's index (`wording`) for breakdowns
(`ponder eval CHECKPOINT --data FILE --by wording`).
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))

ARITHMETIC = [
    ("Add {a} and {b}.", lambda a, b, c: a + b),
    ("What's {a} take away {b}?", lambda a, b, c: a - b),
    ("Multiply {a} by {b}. What do you get?", lambda a, b, c: a * b),
    ("If I have {a} marbles and get {b} more, how many marbles do I have?", lambda a, b, c: a + b),
    ("{a} plus {b} makes how many?", lambda a, b, c: a + b),
    ("Subtract {b} from {a}.", lambda a, b, c: a - b),
    ("What is the product of {a} and {b}?", lambda a, b, c: a * b),
    ("What is the sum of {a}, {b} and {c}?", lambda a, b, c: a + b + c),
    ("Give me the difference {a} minus {b}.", lambda a, b, c: a - b),
    ("Can you tell me what {a} times {b} is?", lambda a, b, c: a * b),
    ("{a} + {b} - {c} comes to what?", lambda a, b, c: a + b - c),
    ("A shop sold {a} apples in the morning and {b} in the afternoon. How many apples did it sell?", lambda a, b, c: a + b),
    ("Work this out for me: {a} - {b} * {c}", lambda a, b, c: a - b * c),
    ("How much is {a} divided by {b}, rounded down to a whole number?", lambda a, b, c: a // b),
    ("Double {a}, then add {b}. What's the result?", lambda a, b, c: 2 * a + b),
]

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
    lines = []
    for i in range(105):
        k = i % len(ARITHMETIC)
        wording, f = ARITHMETIC[k]
        a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 9)
        if k in (1, 5, 8):  # keep some results negative, some positive
            a, b = (a, b) if i % 2 else (min(a, b), max(a, b))
        if k in (2, 6, 9):
            b = rng.randint(2, 12)
        text = wording.format(a=a, b=b, c=c)
        lines.append({"prompt": text, "answer": str(f(a, b, c)), "verifier": "number", "wording": k, "source": "handwritten"})
    write("arithmetic-handwritten.jsonl", lines)

    lines = []
    for i in range(104):
        if i % 2 == 0:
            k = (i // 2) % len(LETTER)
            word = WORDS[rng.randrange(len(WORDS))]
            letters = sorted(set(word.lower()))
            letter = letters[rng.randrange(len(letters))] if i % 6 else "z"  # now and then a letter it lacks
            text = LETTER[k].format(W=word, L=letter)
            answer = word.lower().count(letter)
            lines.append({"prompt": text, "answer": str(answer), "verifier": "number", "wording": f"letter-{k}", "source": "handwritten"})
        else:
            k = (i // 2) % len(SENTENCE)
            sentence = SENTENCES[rng.randrange(len(SENTENCES))]
            text = SENTENCE[k].format(S=sentence)
            lines.append({"prompt": text, "answer": str(len(sentence.split())), "verifier": "number", "wording": f"words-{k}",
                          "source": "handwritten"})
    write("counting-handwritten.jsonl", lines)


def write(name, lines):
    with open(os.path.join(HERE, name), "w") as f:
        for line in lines:
            f.write(json.dumps(line) + "\n")
    print(f"{name}: {len(lines)} lines")


if __name__ == "__main__":
    main()

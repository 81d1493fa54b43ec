/* fixture of tests/layers: function lengths, signature line to closing brace */
int ok_120(int x);
int too_long_121(int x);
int struct_ok(void);

int ok_120(int x)
{
	x += 1; /* { not a brace */
	x += 2; /* { not a brace */
	x += 3; /* { not a brace */
	x += 4; /* { not a brace */
	x += 5; /* { not a brace */
	x += 6; /* { not a brace */
	x += 7; /* { not a brace */
	x += 8; /* { not a brace */
	x += 9; /* { not a brace */
	x += 10; /* { not a brace */
	x += 11; /* { not a brace */
	x += 12; /* { not a brace */
	x += 13; /* { not a brace */
	x += 14; /* { not a brace */
	x += 15; /* { not a brace */
	x += 16; /* { not a brace */
	x += 17; /* { not a brace */
	x += 18; /* { not a brace */
	x += 19; /* { not a brace */
	x += 20; /* { not a brace */
	x += 21; /* { not a brace */
	x += 22; /* { not a brace */
	x += 23; /* { not a brace */
	x += 24; /* { not a brace */
	x += 25; /* { not a brace */
	x += 26; /* { not a brace */
	x += 27; /* { not a brace */
	x += 28; /* { not a brace */
	x += 29; /* { not a brace */
	x += 30; /* { not a brace */
	x += 31; /* { not a brace */
	x += 32; /* { not a brace */
	x += 33; /* { not a brace */
	x += 34; /* { not a brace */
	x += 35; /* { not a brace */
	x += 36; /* { not a brace */
	x += 37; /* { not a brace */
	x += 38; /* { not a brace */
	x += 39; /* { not a brace */
	x += 40; /* { not a brace */
	x += 41; /* { not a brace */
	x += 42; /* { not a brace */
	x += 43; /* { not a brace */
	x += 44; /* { not a brace */
	x += 45; /* { not a brace */
	x += 46; /* { not a brace */
	x += 47; /* { not a brace */
	x += 48; /* { not a brace */
	x += 49; /* { not a brace */
	x += 50; /* { not a brace */
	x += 51; /* { not a brace */
	x += 52; /* { not a brace */
	x += 53; /* { not a brace */
	x += 54; /* { not a brace */
	x += 55; /* { not a brace */
	x += 56; /* { not a brace */
	x += 57; /* { not a brace */
	x += 58; /* { not a brace */
	x += 59; /* { not a brace */
	x += 60; /* { not a brace */
	x += 61; /* { not a brace */
	x += 62; /* { not a brace */
	x += 63; /* { not a brace */
	x += 64; /* { not a brace */
	x += 65; /* { not a brace */
	x += 66; /* { not a brace */
	x += 67; /* { not a brace */
	x += 68; /* { not a brace */
	x += 69; /* { not a brace */
	x += 70; /* { not a brace */
	x += 71; /* { not a brace */
	x += 72; /* { not a brace */
	x += 73; /* { not a brace */
	x += 74; /* { not a brace */
	x += 75; /* { not a brace */
	x += 76; /* { not a brace */
	x += 77; /* { not a brace */
	x += 78; /* { not a brace */
	x += 79; /* { not a brace */
	x += 80; /* { not a brace */
	x += 81; /* { not a brace */
	x += 82; /* { not a brace */
	x += 83; /* { not a brace */
	x += 84; /* { not a brace */
	x += 85; /* { not a brace */
	x += 86; /* { not a brace */
	x += 87; /* { not a brace */
	x += 88; /* { not a brace */
	x += 89; /* { not a brace */
	x += 90; /* { not a brace */
	x += 91; /* { not a brace */
	x += 92; /* { not a brace */
	x += 93; /* { not a brace */
	x += 94; /* { not a brace */
	x += 95; /* { not a brace */
	x += 96; /* { not a brace */
	x += 97; /* { not a brace */
	x += 98; /* { not a brace */
	x += 99; /* { not a brace */
	x += 100; /* { not a brace */
	x += 101; /* { not a brace */
	x += 102; /* { not a brace */
	x += 103; /* { not a brace */
	x += 104; /* { not a brace */
	x += 105; /* { not a brace */
	x += 106; /* { not a brace */
	x += 107; /* { not a brace */
	x += 108; /* { not a brace */
	x += 109; /* { not a brace */
	x += 110; /* { not a brace */
	x += 111; /* { not a brace */
	x += 112; /* { not a brace */
	x += 113; /* { not a brace */
	x += 114; /* { not a brace */
	x += 115; /* { not a brace */
	x += 116; /* { not a brace */
	return x;
}

int too_long_121(int x)
{
	x += 1; /* { not a brace */
	x += 2; /* { not a brace */
	x += 3; /* { not a brace */
	x += 4; /* { not a brace */
	x += 5; /* { not a brace */
	x += 6; /* { not a brace */
	x += 7; /* { not a brace */
	x += 8; /* { not a brace */
	x += 9; /* { not a brace */
	x += 10; /* { not a brace */
	x += 11; /* { not a brace */
	x += 12; /* { not a brace */
	x += 13; /* { not a brace */
	x += 14; /* { not a brace */
	x += 15; /* { not a brace */
	x += 16; /* { not a brace */
	x += 17; /* { not a brace */
	x += 18; /* { not a brace */
	x += 19; /* { not a brace */
	x += 20; /* { not a brace */
	x += 21; /* { not a brace */
	x += 22; /* { not a brace */
	x += 23; /* { not a brace */
	x += 24; /* { not a brace */
	x += 25; /* { not a brace */
	x += 26; /* { not a brace */
	x += 27; /* { not a brace */
	x += 28; /* { not a brace */
	x += 29; /* { not a brace */
	x += 30; /* { not a brace */
	x += 31; /* { not a brace */
	x += 32; /* { not a brace */
	x += 33; /* { not a brace */
	x += 34; /* { not a brace */
	x += 35; /* { not a brace */
	x += 36; /* { not a brace */
	x += 37; /* { not a brace */
	x += 38; /* { not a brace */
	x += 39; /* { not a brace */
	x += 40; /* { not a brace */
	x += 41; /* { not a brace */
	x += 42; /* { not a brace */
	x += 43; /* { not a brace */
	x += 44; /* { not a brace */
	x += 45; /* { not a brace */
	x += 46; /* { not a brace */
	x += 47; /* { not a brace */
	x += 48; /* { not a brace */
	x += 49; /* { not a brace */
	x += 50; /* { not a brace */
	x += 51; /* { not a brace */
	x += 52; /* { not a brace */
	x += 53; /* { not a brace */
	x += 54; /* { not a brace */
	x += 55; /* { not a brace */
	x += 56; /* { not a brace */
	x += 57; /* { not a brace */
	x += 58; /* { not a brace */
	x += 59; /* { not a brace */
	x += 60; /* { not a brace */
	x += 61; /* { not a brace */
	x += 62; /* { not a brace */
	x += 63; /* { not a brace */
	x += 64; /* { not a brace */
	x += 65; /* { not a brace */
	x += 66; /* { not a brace */
	x += 67; /* { not a brace */
	x += 68; /* { not a brace */
	x += 69; /* { not a brace */
	x += 70; /* { not a brace */
	x += 71; /* { not a brace */
	x += 72; /* { not a brace */
	x += 73; /* { not a brace */
	x += 74; /* { not a brace */
	x += 75; /* { not a brace */
	x += 76; /* { not a brace */
	x += 77; /* { not a brace */
	x += 78; /* { not a brace */
	x += 79; /* { not a brace */
	x += 80; /* { not a brace */
	x += 81; /* { not a brace */
	x += 82; /* { not a brace */
	x += 83; /* { not a brace */
	x += 84; /* { not a brace */
	x += 85; /* { not a brace */
	x += 86; /* { not a brace */
	x += 87; /* { not a brace */
	x += 88; /* { not a brace */
	x += 89; /* { not a brace */
	x += 90; /* { not a brace */
	x += 91; /* { not a brace */
	x += 92; /* { not a brace */
	x += 93; /* { not a brace */
	x += 94; /* { not a brace */
	x += 95; /* { not a brace */
	x += 96; /* { not a brace */
	x += 97; /* { not a brace */
	x += 98; /* { not a brace */
	x += 99; /* { not a brace */
	x += 100; /* { not a brace */
	x += 101; /* { not a brace */
	x += 102; /* { not a brace */
	x += 103; /* { not a brace */
	x += 104; /* { not a brace */
	x += 105; /* { not a brace */
	x += 106; /* { not a brace */
	x += 107; /* { not a brace */
	x += 108; /* { not a brace */
	x += 109; /* { not a brace */
	x += 110; /* { not a brace */
	x += 111; /* { not a brace */
	x += 112; /* { not a brace */
	x += 113; /* { not a brace */
	x += 114; /* { not a brace */
	x += 115; /* { not a brace */
	x += 116; /* { not a brace */
	x += 117; /* { not a brace */
	return x;
}

static const int table[] = {
	0,
	1,
	2,
	3,
	4,
	5,
	6,
	7,
	8,
	9,
	10,
	11,
	12,
	13,
	14,
	15,
	16,
	17,
	18,
	19,
	20,
	21,
	22,
	23,
	24,
	25,
	26,
	27,
	28,
	29,
	30,
	31,
	32,
	33,
	34,
	35,
	36,
	37,
	38,
	39,
	40,
	41,
	42,
	43,
	44,
	45,
	46,
	47,
	48,
	49,
	50,
	51,
	52,
	53,
	54,
	55,
	56,
	57,
	58,
	59,
	60,
	61,
	62,
	63,
	64,
	65,
	66,
	67,
	68,
	69,
	70,
	71,
	72,
	73,
	74,
	75,
	76,
	77,
	78,
	79,
	80,
	81,
	82,
	83,
	84,
	85,
	86,
	87,
	88,
	89,
	90,
	91,
	92,
	93,
	94,
	95,
	96,
	97,
	98,
	99,
	100,
	101,
	102,
	103,
	104,
	105,
	106,
	107,
	108,
	109,
	110,
	111,
	112,
	113,
	114,
	115,
	116,
	117,
	118,
	119,
	120,
	121,
	122,
	123,
	124,
	125,
	126,
	127,
	128,
	129,
	130,
	131,
	132,
	133,
	134,
	135,
	136,
	137,
	138,
	139,
	140,
	141,
	142,
	143,
	144,
	145,
	146,
	147,
	148,
	149,
};

int struct_ok(void)
{
	const char *s = "}";
	return table[0] + (s[0] == '}');
}

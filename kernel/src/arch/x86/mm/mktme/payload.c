// SPDX-License-Identifier: GPL-2.0
/*
 * The payload of an "mktme" key (add_key(2), keyctl add):
 *
 *   payload   := token (whitespace token)*     at most 1024 bytes
 *   token     := "type=" ("cpu" | "user" | "clear" | "no-encrypt")
 *              | "algorithm=" ("aes-xts-128" | "aes-xts-256")
 *              | "key=" HEX | "tweak=" HEX
 *   whitespace:= (' ' | '\t' | '\n')+          leading/trailing allowed
 *
 * - type= is required; every token at most once; anything else is invalid.
 * - key= and tweak= are for type=user only, which needs both. Each is the
 *   key size of the algorithm in hex: 32 digits for AES-XTS-128, 64 for
 *   AES-XTS-256, no other length. They must differ (as crypto/xts.h's
 *   xts_verify_key() demands of XTS keys).
 * - algorithm= may be omitted. type=user then means AES-XTS-128, so the key
 *   length alone is not what chooses the algorithm; for the other types
 *   (alg_set false) key.c picks the platform's default, AES-XTS-128 if
 *   activated, else AES-XTS-256.
 * - Bytes other than printable ASCII and the whitespace above (a NUL, for
 *   one) make the payload invalid.
 *
 * Pure: no allocation, no global state. Returns 0 or -EINVAL; on -EINVAL
 * the key bytes already decoded into @p are wiped.
 */
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>

#include "mktme.h"

enum {
	TOK_TYPE,
	TOK_ALG,
	TOK_KEY,
	TOK_TWEAK,
	NR_TOKS
};

static const char * const mktme_tokens[NR_TOKS] = {
	[TOK_TYPE] = "type",
	[TOK_ALG] = "algorithm",
	[TOK_KEY] = "key",
	[TOK_TWEAK] = "tweak",
};

static const char * const mktme_types[] = {
	[MKTME_KEY_TYPE_CPU] = "cpu",
	[MKTME_KEY_TYPE_USER] = "user",
	[MKTME_KEY_TYPE_CLEAR] = "clear",
	[MKTME_KEY_TYPE_NO_ENCRYPT] = "no-encrypt",
};

const char *mktme_key_type_name(enum mktme_key_type type)
{
	if ((unsigned int)type < ARRAY_SIZE(mktme_types))
		return mktme_types[type];
	return "?";
}

static bool mktme_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* @s, @len (not NUL-terminated) equals the C string @word. */
static bool mktme_eq(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(s, word, len);
}

/* Decode @len hex digits into @out (@len / 2 bytes); no length checks here. */
static int mktme_hex(u8 *out, const char *s, size_t len)
{
	if (len % 2)
		return -EINVAL;
	return hex2bin(out, s, len / 2);
}

int mktme_payload_parse(const char *data, size_t len, struct mktme_payload *p)
{
	const char *val[NR_TOKS] = { };
	size_t val_len[NR_TOKS] = { };
	size_t i = 0, key_hex;
	int t;

	memset(p, 0, sizeof(*p));
	if (!data || !len || len > MKTME_PAYLOAD_MAX)
		return -EINVAL;

	for (i = 0; i < len; i++)
		if (!mktme_is_space(data[i]) &&
		    !(data[i] >= 0x20 && data[i] < 0x7f))
			return -EINVAL;

	/* Split into name=value tokens; remember each value, once. */
	i = 0;
	while (i < len) {
		const char *tok, *eq;
		size_t tok_len;

		if (mktme_is_space(data[i])) {
			i++;
			continue;
		}
		tok = data + i;
		while (i < len && !mktme_is_space(data[i]))
			i++;
		tok_len = data + i - tok;
		eq = memchr(tok, '=', tok_len);
		if (!eq)
			return -EINVAL;
		for (t = 0; t < NR_TOKS; t++)
			if (mktme_eq(tok, eq - tok, mktme_tokens[t]))
				break;
		if (t == NR_TOKS || val[t])
			return -EINVAL;
		val[t] = eq + 1;
		val_len[t] = tok + tok_len - val[t];
	}

	if (!val[TOK_TYPE])
		return -EINVAL;
	for (t = 0; t < ARRAY_SIZE(mktme_types); t++)
		if (mktme_eq(val[TOK_TYPE], val_len[TOK_TYPE], mktme_types[t]))
			break;
	if (t == ARRAY_SIZE(mktme_types))
		return -EINVAL;
	p->type = t;

	p->alg = MKTME_ALG_AES_XTS_128;
	if (val[TOK_ALG]) {
		if (mktme_eq(val[TOK_ALG], val_len[TOK_ALG], "aes-xts-128"))
			p->alg = MKTME_ALG_AES_XTS_128;
		else if (mktme_eq(val[TOK_ALG], val_len[TOK_ALG], "aes-xts-256"))
			p->alg = MKTME_ALG_AES_XTS_256;
		else
			return -EINVAL;
		p->alg_set = true;
	}

	if (p->type != MKTME_KEY_TYPE_USER) {
		if (val[TOK_KEY] || val[TOK_TWEAK])
			return -EINVAL;
		return 0;
	}

	p->key_len = p->alg == MKTME_ALG_AES_XTS_256 ? 32 : 16;
	key_hex = 2 * p->key_len;
	if (!val[TOK_KEY] || !val[TOK_TWEAK] ||
	    val_len[TOK_KEY] != key_hex || val_len[TOK_TWEAK] != key_hex)
		goto invalid;
	if (mktme_hex(p->key, val[TOK_KEY], key_hex) ||
	    mktme_hex(p->tweak, val[TOK_TWEAK], key_hex))
		goto invalid;
	if (!memcmp(p->key, p->tweak, p->key_len))
		goto invalid;
	return 0;

invalid:
	memzero_explicit(p, sizeof(*p));
	return -EINVAL;
}

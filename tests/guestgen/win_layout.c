/* SPDX-License-Identifier: MIT */
/*
 * EPROCESS layouts of the Windows x64 builds guestgen models, written from
 * public knowledge of the kernel's structures (the offsets are facts that
 * symbol files publish; this table is ours), and one made-up layout,
 * "shifted", whose offsets are moved by different amounts and model no
 * real build: a library that finds offsets by itself must not care.  The
 * PEB, loader and process-parameter offsets have not moved on x64 since
 * Windows 7 and are fixed here.
 *
 * Runs in: tests (guestgen)
 */
#include <stddef.h>
#include <string.h>

#include "win.h"

/*
 *            udtb   pid    links  flags2 flags  ctime  token  sesslk
 *            ppid   secbas peb    objtbl wow64  name   thl    athr
 *            exitst mmlinks
 */
static const struct win_layout layouts[] = {
	{ "17763", "Windows 10 1809 / Server 2019", 17763, 0x850, 0x2d8, 1,
	  0x278, 0x2e0, 0x2e8, 0x300, 0x304, 0x308, 0x358, 0x340,
	  0x3e0, 0x3c8, 0x3f8, 0x418, 0x428, 0x450, 0x488, 0x498,
	  0x64c, 0x638 },
	{ "18363", "Windows 10 1909", 18363, 0x880, 0x2e0, 1,
	  0x280, 0x2e8, 0x2f0, 0x308, 0x30c, 0x310, 0x360, 0x348,
	  0x3e8, 0x3d0, 0x3f8, 0x418, 0x428, 0x450, 0x488, 0x498,
	  0x654, 0x640 },
	{ "19045", "Windows 10 2004-22H2 (19041-19045)", 19045, 0xa40, 0x438, 1,
	  0x388, 0x440, 0x448, 0x460, 0x464, 0x468, 0x4b8, 0x4a0,
	  0x540, 0x520, 0x550, 0x570, 0x580, 0x5a8, 0x5e0, 0x5f0,
	  0x7d4, 0x7c0 },
	{ "20348", "Windows Server 2022", 20348, 0xa40, 0x438, 1,
	  0x388, 0x440, 0x448, 0x460, 0x464, 0x468, 0x4b8, 0x4a0,
	  0x540, 0x520, 0x550, 0x570, 0x580, 0x5a8, 0x5e0, 0x5f0,
	  0x7d4, 0x7c0 },
	{ "22000", "Windows 11 21H2", 22000, 0xa40, 0x438, 1,
	  0x388, 0x440, 0x448, 0x460, 0x464, 0x468, 0x4b8, 0x4a0,
	  0x540, 0x520, 0x550, 0x570, 0x580, 0x5a8, 0x5e0, 0x5f0,
	  0x7d4, 0x7c0 },
	{ "22621", "Windows 11 22H2", 22621, 0xb80, 0x438, 1,
	  0x388, 0x440, 0x448, 0x460, 0x464, 0x468, 0x4b8, 0x4a0,
	  0x540, 0x520, 0x550, 0x570, 0x580, 0x5a8, 0x5e0, 0x5f0,
	  0x7d4, 0x7c0 },
	{ "22631", "Windows 11 23H2", 22631, 0xb80, 0x438, 1,
	  0x388, 0x440, 0x448, 0x460, 0x464, 0x468, 0x4b8, 0x4a0,
	  0x540, 0x520, 0x550, 0x570, 0x580, 0x5a8, 0x5e0, 0x5f0,
	  0x7d4, 0x7c0 },
	/* 24H2: KPROCESS shrank; KVA shadow off (a CPU that needs none). */
	{ "26100", "Windows 11 24H2", 26100, 0x9c0, 0x1c8, 0,
	  0x158, 0x1d0, 0x1d8, 0x1f0, 0x1f4, 0x1f8, 0x248, 0x230,
	  0x2d0, 0x2b0, 0x2e0, 0x300, 0x310, 0x338, 0x370, 0x380,
	  0x564, 0x550 },
	/* Not a real build: every offset moved by its own amount. */
	{ "shifted", "made-up build 27000 (offsets of no real build)", 27000,
	  0xc40, 0x3f0, 1,
	  0x3b8, 0x618, 0x620, 0x63c, 0x640, 0x648, 0x6b0, 0x690,
	  0x758, 0x728, 0x770, 0x7a0, 0x7b8, 0x7e8, 0x830, 0x848,
	  0xa2c, 0xa10 },
};

#define NONE	((size_t)~0)
#define F(n, m)	{ n, offsetof(struct win_layout, m), 0 }
#define X(n, v)	{ n, NONE, v }

const struct win_field win_fields[] = {
	X("EPROCESS.DirectoryTableBase", 0x28),
	X("KPROCESS.ThreadListHead", 0x30),
	F("EPROCESS.UserDirectoryTableBase", udtb),
	F("EPROCESS.UniqueProcessId", pid),
	F("EPROCESS.ActiveProcessLinks", links),
	F("EPROCESS.Flags2", flags2),
	F("EPROCESS.Flags", flags),
	F("EPROCESS.CreateTime", ctime),
	F("EPROCESS.SessionProcessLinks", session_links),
	F("EPROCESS.Token", token),
	F("EPROCESS.SectionBaseAddress", section_base),
	F("EPROCESS.InheritedFromUniqueProcessId", ppid),
	F("EPROCESS.Peb", peb),
	F("EPROCESS.ObjectTable", objtable),
	F("EPROCESS.WoW64Process", wow64),
	F("EPROCESS.ImageFileName", fname),
	F("EPROCESS.ThreadListHead", thl),
	F("EPROCESS.ActiveThreads", athreads),
	F("EPROCESS.MmProcessLinks", mm_links),
	F("EPROCESS.ExitStatus", exitstatus),
	X("PEB.ImageBaseAddress", 0x10),
	X("PEB.Ldr", 0x18),
	X("PEB.ProcessParameters", 0x20),
	X("RTL_USER_PROCESS_PARAMETERS.ImagePathName", 0x60),
	X("PEB_LDR_DATA.InLoadOrderModuleList", 0x10),
	X("LDR_DATA_TABLE_ENTRY.InLoadOrderLinks", 0x0),
	X("LDR_DATA_TABLE_ENTRY.DllBase", 0x30),
	X("LDR_DATA_TABLE_ENTRY.EntryPoint", 0x38),
	X("LDR_DATA_TABLE_ENTRY.SizeOfImage", 0x40),
	X("LDR_DATA_TABLE_ENTRY.FullDllName", 0x48),
	X("LDR_DATA_TABLE_ENTRY.BaseDllName", 0x58),
	{ NULL, 0, 0 },
};

uint32_t
win_field_off(const struct win_layout *l, const struct win_field *f)
{
	uint16_t v;

	if (f->off == NONE)
		return f->fixed;
	memcpy(&v, (const char *)l + f->off, sizeof(v));
	return v;
}

/* "19041".."19045" are one layout; NULL when the name is unknown. */
const struct win_layout *
win_layout_find(const char *name)
{
	size_t i;

	if (strncmp(name, "1904", 4) == 0 && name[4] >= '1' &&
	    name[4] <= '5' && name[5] == '\0')
		name = "19045";
	if (strcmp(name, "27000") == 0)
		name = "shifted";
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		if (strcmp(layouts[i].name, name) == 0)
			return &layouts[i];
	return NULL;
}

const char *
win_layout_names(void)
{
	return "17763, 18363, 19041-19045, 20348, 22000, 22621, 22631, "
	    "26100, shifted (27000), none";
}

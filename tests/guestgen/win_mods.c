/* SPDX-License-Identifier: MIT */
/*
 * The user-mode images of the Windows scene: ntdll, kernel32 and
 * KernelBase with real export names (kernel32 forwards HeapAlloc and
 * friends to NTDLL), SHELL32 with --exports names and many ordinal-only
 * exports, the other system DLLs of a desktop with small export tables,
 * made-up application DLLs past that, the WOW64 layer, and one executable
 * image per distinct path (PE32 for a WOW64 process) importing by name and
 * by ordinal.  Each DLL gets one base for the boot, as Windows does.
 *
 * Runs in: tests (guestgen)
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "win.h"

static const char *const ntdll_names[] = {
	"RtlAllocateHeap", "RtlFreeHeap", "RtlReAllocateHeap", "RtlSizeHeap",
	"RtlGetLastWin32Error", "RtlAcquireSRWLockExclusive",
	"RtlInitUnicodeString", "RtlCaptureContext", "RtlLookupFunctionEntry",
	"RtlVirtualUnwind", "RtlUserThreadStart", "RtlExitUserProcess",
	"NtCreateFile", "NtReadFile", "NtWriteFile", "NtClose",
	"NtQuerySystemInformation", "NtQueryInformationProcess",
	"NtAllocateVirtualMemory", "NtFreeVirtualMemory",
	"NtProtectVirtualMemory", "NtDelayExecution", "NtTerminateProcess",
	"NtOpenProcess", "ZwClose", "ZwCreateFile", "LdrLoadDll",
	"LdrGetProcedureAddress", "LdrGetDllHandle", "KiUserExceptionDispatcher",
	"KiUserApcDispatcher", "EtwEventWrite", "DbgBreakPoint", "DbgPrint",
	"TpAllocWork", "memcpy", "memset", "strlen", "_wcsicmp",
};

static const char *const k32_names[] = {
	"CreateFileW", "CreateFileA", "ReadFile", "WriteFile", "CloseHandle",
	"GetProcAddress", "LoadLibraryW", "LoadLibraryExW", "GetModuleHandleW",
	"VirtualAlloc", "VirtualFree", "VirtualProtect", "HeapAlloc",
	"HeapFree", "HeapReAlloc", "HeapSize", "GetLastError", "SetLastError",
	"ExitProcess", "Sleep", "CreateThread", "GetCurrentProcess",
	"GetCurrentProcessId", "OpenProcess", "TerminateProcess",
	"WaitForSingleObject", "AcquireSRWLockExclusive", "GetTickCount",
	"QueryPerformanceCounter", "MultiByteToWideChar",
	"WideCharToMultiByte", "GetSystemInfo", "IsWow64Process",
	"BaseThreadInitThunk", "CreateProcessW", "GetModuleFileNameW",
	"FreeLibrary", "lstrlenW",
};

/* kernel32's forwarders, as the real one has them. */
static const char *const k32_fwd[] = {
	"HeapAlloc", "NTDLL.RtlAllocateHeap",
	"HeapFree", "NTDLL.RtlFreeHeap",
	"HeapReAlloc", "NTDLL.RtlReAllocateHeap",
	"HeapSize", "NTDLL.RtlSizeHeap",
	"GetLastError", "NTDLL.RtlGetLastWin32Error",
	"AcquireSRWLockExclusive", "NTDLL.RtlAcquireSRWLockExclusive",
	"QueryPerformanceCounter",
	"api-ms-win-core-profile-l1-1-0.QueryPerformanceCounter",
	NULL,
};

static const char *const shell_names[] = {
	"ShellExecuteW", "ShellExecuteExW", "SHGetFolderPathW",
	"SHGetKnownFolderPath", "SHFileOperationW", "DragQueryFileW",
	"ExtractIconW", "CommandLineToArgvW", "Shell_NotifyIconW",
	"SHGetSpecialFolderPathW", "SHCreateDirectoryExW", "SHBrowseForFolderW",
};

#define N(a)	(sizeof(a) / sizeof((a)[0]))

/* Other DLLs a desktop process loads, in a plausible load order. */
const char *const win_dll_catalog[] = {
	"ucrtbase.dll", "msvcrt.dll", "sechost.dll", "RPCRT4.dll",
	"combase.dll", "USER32.dll", "win32u.dll", "GDI32.dll",
	"gdi32full.dll", "msvcp_win.dll", "ADVAPI32.dll", "SHELL32.dll",
	"ole32.dll", "OLEAUT32.dll", "SHLWAPI.dll", "bcryptPrimitives.dll",
	"IMM32.DLL", "uxtheme.dll", "dwmapi.dll", "WS2_32.dll", "CRYPT32.dll",
	"profapi.dll", "windows.storage.dll", "wintypes.dll", NULL,
};

static const struct win_imp exe_imports[] = {
	{ "KERNEL32.dll", "CreateFileW", 0xde, 0 },
	{ "KERNEL32.dll", "ReadFile", 0x475, 0 },
	{ "KERNEL32.dll", "CloseHandle", 0x89, 0 },
	{ "KERNEL32.dll", "GetProcAddress", 0x2b7, 0 },
	{ "KERNEL32.dll", "HeapAlloc", 0x34b, 0 },
	{ "KERNEL32.dll", "ExitProcess", 0x157, 0 },
	{ "WS2_32.dll", NULL, 23, 0 },		/* socket */
	{ "WS2_32.dll", NULL, 115, 0 },		/* WSAStartup */
	{ "WS2_32.dll", NULL, 116, 0 },		/* WSACleanup */
	{ "USER32.dll", "MessageBoxW", 0x28b, 0 },
	{ "USER32.dll", "GetMessageW", 0x1a0, 0 },
};

static const struct win_imp dll_imports[] = {
	{ "ntdll.dll", "RtlAllocateHeap", 0x4b2, 0 },
	{ "ntdll.dll", "NtClose", 0x1f0, 0 },
	{ "ntdll.dll", "LdrLoadDll", 0xb1, 0 },
	{ "api-ms-win-core-synch-l1-2-0.dll", "Sleep", 0x3a, 0 },
};

static struct win_img *
find(struct win *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nimgs; i++)
		if (!w->imgs[i]->kernel && strcasecmp(w->imgs[i]->name, name) == 0)
			return w->imgs[i];
	return NULL;
}

/* The next base in the DLL region, 64 KiB aligned with random gaps. */
static uint64_t
next_base(struct guest *g, uint64_t *next, uint32_t size)
{
	uint64_t b = *next;

	*next += size + 0x10000 * (1 + image_randn(g, 32));
	return b;
}

static void
exports_of(struct guest *g, struct win_img *m, const char *name)
{
	struct win *w = g->win;

	if (strcasecmp(name, "ntdll.dll") == 0)
		win_pe_exports(g, m, "ntdll.dll", ntdll_names, N(ntdll_names),
		    600, 2, 8, NULL);
	else if (strcasecmp(name, "KERNEL32.DLL") == 0)
		win_pe_exports(g, m, "KERNEL32.dll", k32_names, N(k32_names),
		    300, 0, 1, k32_fwd);
	else if (strcasecmp(name, "KERNELBASE.dll") == 0)
		win_pe_exports(g, m, "KERNELBASE.dll", k32_names, N(k32_names),
		    300, 0, 1, NULL);
	else if (strcasecmp(name, "SHELL32.dll") == 0)
		win_pe_exports(g, m, "SHELL32.dll", shell_names, N(shell_names),
		    w->opt.exports, 60, 2, NULL);
	else if (image_randn(g, 4) != 0)
		win_pe_exports(g, m, name, NULL, 0, 4 + image_randn(g, 12), 0,
		    1, NULL);
}

/* The DLL `name`, built on first use. */
struct win_img *
win_dll(struct guest *g, const char *name, int app)
{
	struct win *w = g->win;
	struct win_img *m = find(w, name);
	char path[200];
	uint32_t size;

	if (m != NULL)
		return m;
	size = 0x20000 + 0x10000 * (uint32_t)image_randn(g, 16);
	if (strcasecmp(name, "ntdll.dll") == 0 ||
	    strcasecmp(name, "KERNELBASE.dll") == 0)
		size = 0x200000;
	else if (strcasecmp(name, "SHELL32.dll") == 0)
		size = 0x100000 + ((w->opt.exports * 96 + 0xffff) & ~0xffffu);
	else if (strcasecmp(name, "KERNEL32.DLL") == 0)
		size = 0xc0000;
	if (app)
		snprintf(path, sizeof(path),
		    "C:\\Program Files\\Contoso\\Suite\\bin\\%s", name);
	else
		snprintf(path, sizeof(path), "C:\\Windows\\System32\\%s", name);
	m = win_pe_new(g, name, path, next_base(g, &w->next_dll, size), size,
	    64);
	if (strcasecmp(name, "ntdll.dll") == 0)
		m->entry_rva = 0;	/* ntdll has no entry point */
	exports_of(g, m, name);
	if (strcasecmp(name, "ntdll.dll") != 0)
		win_pe_imports(g, m, dll_imports, N(dll_imports));
	win_pe_finish(g, m);
	return m;
}

/* The executable image at `path`, one per path, 32-bit for WOW64. */
struct win_img *
win_exe(struct guest *g, const char *path, int wow64)
{
	struct win *w = g->win;
	const char *name = strrchr(path, '\\') ? strrchr(path, '\\') + 1 : path;
	struct win_img *m;
	uint32_t size = 0x20000 + 0x10000 * (uint32_t)image_randn(g, 12);
	uint64_t base;
	size_t i;

	for (i = 0; i < w->nimgs; i++)
		if (strcmp(w->imgs[i]->path, path) == 0)
			return w->imgs[i];
	if (wow64)
		base = 0x00400000ull + 0x10000 * image_randn(g, 0x400);
	else
		base = next_base(g, &w->next_exe, size);
	m = win_pe_new(g, name, path, base, size, wow64 ? 32 : 64);
	win_pe_imports(g, m, exe_imports, N(exe_imports));
	win_pe_finish(g, m);
	return m;
}

/* Made-up application DLL number i (past the catalog). */
struct win_img *
win_app_dll(struct guest *g, unsigned int i)
{
	char name[64];

	snprintf(name, sizeof(name), "contoso_mod%03u.dll", i);
	return win_dll(g, name, 1);
}

void
win_mods_init(struct guest *g)
{
	struct win *w = g->win;

	w->next_dll = 0x00007ff800000000ull + image_randn(g, 0x8000) * 0x10000;
	w->next_exe = 0x00007ff600000000ull + image_randn(g, 0x8000) * 0x10000;
	/* The core DLLs first, so their bases look like a real boot's. */
	(void)win_dll(g, "ntdll.dll", 0);
	(void)win_dll(g, "KERNEL32.DLL", 0);
	(void)win_dll(g, "KERNELBASE.dll", 0);
}

/* ProcessPrng for wine releases that lack bcryptprimitives.dll (wine 8.0, Debian 12's). Rust's
 * standard library (>= 1.78) takes its random bytes from bcryptprimitives!ProcessPrng on every
 * Windows it supports, so without this DLL no Rust program starts under such a wine. It answers
 * from advapi32's RtlGenRandom (SystemFunction036), the generator the same wine serves. Only
 * windows-smoke.sh uses it, and only in its temporary WINEPREFIX. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}

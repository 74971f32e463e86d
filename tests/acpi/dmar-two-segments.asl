/*
 * A DMAR a real server could have: two units in two PCI segments, one of
 * them INCLUDE_PCI_ALL with I/O APIC and HPET scopes, the other listing an
 * endpoint behind a bridge (a two-hop path) and a bridge's sub-hierarchy;
 * an RMRR for a USB controller, an ATSR, an RHSA and an ANDD. Source for
 * iasl's data-table compiler (tests/tool/test_decode.py compiles it,
 * decodes it with vtdlab-decode and compares every field with iasl -d).
 */
[0004]                          Signature : "DMAR"
[0004]                       Table Length : 00000000
[0001]                           Revision : 01
[0001]                           Checksum : 00
[0006]                             Oem ID : "VTDLAB"
[0008]                       Oem Table ID : "TWOSEGS "
[0004]                       Oem Revision : 00000001
[0004]                    Asl Compiler ID : "INTL"
[0004]              Asl Compiler Revision : 20200925

[0001]                 Host Address Width : 2D
[0001]                              Flags : 03
[0010]                           Reserved : 00 00 00 00 00 00 00 00 00 00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0022
[0001]                              Flags : 00
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0001
[0008]              Register Base Address : 00000000FBFFC000

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 0A
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 80
[0002]                           PCI Path : 02,00
[0002]                           PCI Path : 00,01

[0001]                  Device Scope Type : 02 [PCI Bridge Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 80
[0002]                           PCI Path : 03,00

[0002]                      Subtable Type : 0000 [Hardware Unit Definition]
[0002]                             Length : 0020
[0001]                              Flags : 01
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0000
[0008]              Register Base Address : 00000000FED90000

[0001]                  Device Scope Type : 03 [IOAPIC Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 08
[0001]                     PCI Bus Number : F0
[0002]                           PCI Path : 1F,00

[0001]                  Device Scope Type : 04 [Message-capable HPET Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : F0
[0002]                           PCI Path : 0F,00

[0002]                      Subtable Type : 0001 [Reserved Memory Region]
[0002]                             Length : 0020
[0002]                           Reserved : 0000
[0002]                 PCI Segment Number : 0000
[0008]                       Base Address : 000000007B800000
[0008]                End Address (limit) : 000000007B9FFFFF

[0001]                  Device Scope Type : 01 [PCI Endpoint Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 00
[0002]                           PCI Path : 14,00

[0002]                      Subtable Type : 0002 [Root Port ATS Capability]
[0002]                             Length : 0010
[0001]                              Flags : 00
[0001]                           Reserved : 00
[0002]                 PCI Segment Number : 0001

[0001]                  Device Scope Type : 02 [PCI Bridge Device]
[0001]                       Entry Length : 08
[0002]                           Reserved : 0000
[0001]                     Enumeration ID : 00
[0001]                     PCI Bus Number : 80
[0002]                           PCI Path : 02,00

[0002]                      Subtable Type : 0003 [Remapping Hardware Static Affinity]
[0002]                             Length : 0014
[0004]                           Reserved : 00000000
[0008]                       Base Address : 00000000FBFFC000
[0004]                   Proximity Domain : 00000001

[0002]                      Subtable Type : 0004 [ACPI Namespace Device Declaration]
[0002]                             Length : 0017
[0003]                           Reserved : 000000
[0001]                 Device Number : 01
[0000]                        Device Name : "\_SB.PCI0.I2C1"
